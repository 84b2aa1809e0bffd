"""Settings, without torch: what one range test and one `lrfind run` are told to do.

settings (SweepConfig and its checks), files (TOML config files, --arg),
resolve (command line > config file > defaults, into a RunConfig), torchrun
(the launcher's environment, read once).
"""

from lrfind.config.resolve import DEFAULT_OUT_DIR, RunConfig, resolve
from lrfind.config.settings import (
    AMP_MODES,
    DEFAULT_METHOD,
    METHOD_NAMES,
    OPTIMIZERS,
    Mode,
    SweepConfig,
)
from lrfind.config.torchrun import TorchrunEnv, torchrun_env

__all__ = [
    "AMP_MODES",
    "DEFAULT_METHOD",
    "DEFAULT_OUT_DIR",
    "METHOD_NAMES",
    "OPTIMIZERS",
    "Mode",
    "RunConfig",
    "SweepConfig",
    "TorchrunEnv",
    "resolve",
    "torchrun_env",
]
