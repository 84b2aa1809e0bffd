"""Settings: validation, TOML files, --arg parsing and precedence."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind import find_lr
from lrfind.cli import app
from lrfind.config.files import load_toml, parse_config
from lrfind.config.names import unknown_names
from lrfind.config.resolve import parse_build_args, resolve
from lrfind.config.settings import SweepConfig
from lrfind.errors import ConfigError, UsageError

from .assets import tiny
from .conftest import TINY

NONE = dict.fromkeys(
    [
        "start_lr",
        "end_lr",
        "steps",
        "mode",
        "smoothing",
        "diverge_threshold",
        "seed",
        "device",
        "method",
        "optimizer",
        "out_dir",
        "plot",
    ]
)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_design() -> None:
    c = SweepConfig()
    assert (c.start_lr, c.end_lr, c.steps, c.mode) == (1e-7, 10.0, 100, "exp")
    # Departures from DESIGN.md, on purpose (docs/quality.md): no EMA, the robust stop rule
    # (diverge_threshold None; a number selects lrfind 0.1's ratio rule), method "robust".
    assert (c.smoothing, c.diverge_threshold, c.method, c.device) == (0.0, None, "robust", "auto")
    assert (c.stop_k, c.stop_fraction, c.divisor) == (12.0, 1.0, 5.0)


def test_sweepconfig_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as e:
        SweepConfig(start_lr=0, steps=1, smoothing=1.0, diverge_threshold=1.0)
    names = [p.split(" =")[0] for p in e.value.problems]
    assert names == ["start_lr", "steps", "smoothing", "diverge_threshold"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_lr", -1.0),
        ("end_lr", 1e-9),
        ("steps", 10**9),
        ("mode", "cosine"),
        ("smoothing", -0.1),
        ("diverge_threshold", 0.5),
        ("seed", -1),
        ("seed", 2**63),
        ("device", "tpu"),
        ("method", "magic"),
        ("optimizer", "lion"),
        ("steps", 2.5),
        ("start_lr", True),
    ],
)
def test_invalid_values_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SweepConfig(**{field: value})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"seed": 2**63 - 1, "repeats": 2}, r"seed = \d+: must leave room for --repeats 2"),
        ({"diverge_threshold": math.inf}, r"diverge_threshold = inf: must be a finite number"),
        ({"start_lr": 1e-300, "end_lr": 1e10}, r"end_lr = .*: must be within 300 decades"),
    ],
)
def test_settings_that_fail_only_after_the_sweep_began_are_refused_up_front(
    settings: dict, message: str
) -> None:
    """Each passed the checks, then cost the finished repeats (a later seed past 2**63),
    recorded the wrong rule (inf read as unset) or overflowed the LRs between (inf)."""
    with pytest.raises(ConfigError, match=message):
        SweepConfig(**settings)
    SweepConfig(seed=2**63 - 2, repeats=2)  # the last seed is 2**63 - 1: fine


def test_a_seed_past_the_limit_names_the_limit() -> None:
    with pytest.raises(ConfigError, match=r"seed .*must be an integer from 0 to 2\*\*63 - 1"):
        SweepConfig(seed=10**20)


def test_optimizer_kwargs_cannot_set_lr() -> None:
    with pytest.raises(ConfigError, match="lr"):
        SweepConfig(optimizer="adamw", optimizer_kwargs={"lr": 1.0})


def test_build_args_are_toml_literals_else_strings() -> None:
    assert parse_build_args(["a=1", "b=2.5", "c=true", "d=[1, 2]", "e=hello", "f=", "g=a=b"]) == {
        "a": 1,
        "b": 2.5,
        "c": True,
        "d": [1, 2],
        "e": "hello",
        "f": "",
        "g": "a=b",
    }


@pytest.mark.parametrize("bad", ["noequals", "=1", "1x=2", "a b=1"])
def test_malformed_build_args(bad: str) -> None:
    with pytest.raises(UsageError, match="--arg"):
        parse_build_args([bad])


def test_precedence_cli_over_file_over_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'spec = "file.py:build"\n[sweep]\nsteps = 50\nend_lr = 1.0\n[build]\nwidth = 8\ndepth = 2\n'
        '[output]\nout_dir = "from-file"\nplot = false\n',
    )
    cfg = resolve(None, {**NONE, "steps": 70}, ["width=16"], path)
    assert cfg.sweep.steps == 70  # command line wins
    assert cfg.sweep.end_lr == 1.0  # file beats default
    assert cfg.sweep.start_lr == 1e-7  # default
    assert cfg.spec == "file.py:build"
    assert cfg.build_kwargs == {"width": 16, "depth": 2}
    assert (cfg.out_dir, cfg.plot) == (Path("from-file").absolute(), False)  # resolved at once
    assert resolve("cli.py:build", NONE, None, path).spec == "cli.py:build"


def test_optimizer_table(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[optimizer]\nname = "AdamW"\nweight_decay = 0.1\nbetas = [0.9, 0.95]\n'
    )
    cfg = resolve("m.py:build", NONE, None, path)
    assert cfg.sweep.optimizer == "adamw"
    assert dict(cfg.sweep.optimizer_kwargs) == {"weight_decay": 0.1, "betas": [0.9, 0.95]}
    # The same optimizer in another case keeps them: "AdamW" is adamw.
    cfg = resolve("m.py:build", {**NONE, "optimizer": "ADAMW"}, None, path)
    assert dict(cfg.sweep.optimizer_kwargs) == {"weight_decay": 0.1, "betas": [0.9, 0.95]}
    # A different optimizer on the command line drops the file's kwargs (they belong to adamw).
    cfg = resolve("m.py:build", {**NONE, "optimizer": "sgd"}, None, path)
    assert cfg.sweep.optimizer == "sgd" and dict(cfg.sweep.optimizer_kwargs) == {}


def test_optimizer_arguments_the_constructor_chokes_on_are_a_usage_error() -> None:
    """betas=[0.9] makes Adam's constructor raise IndexError, not TypeError or ValueError:
    still the [optimizer] table's fault, exit 2, not a failed sweep."""
    with pytest.raises(UsageError, match=r"optimizer adamw rejects its arguments .*\[optimizer\]"):
        find_lr(*tiny.build(), optimizer="adamw", optimizer_kwargs={"betas": [0.9]}, steps=6)


def test_unknown_keys_and_wrong_types_are_reported_together(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'spc = "typo"\n[sweep]\nstep = 10\nend_lr = "big"\n[output]\nplot = "yes"\n[extra]\n',
    )
    with pytest.raises(ConfigError) as e:
        resolve("m.py:build", NONE, None, path)
    text = str(e.value)
    assert len(e.value.problems) == 5
    for needle in ["'spc'", "'step'", "end_lr = 'big'", "plot = 'yes'", "'extra'"]:
        assert needle in text
    assert all(p.startswith(path) for p in e.value.problems)


def test_out_of_range_value_names_its_source(tmp_path: Path) -> None:
    path = _write(tmp_path, "[sweep]\nsmoothing = 1.5\n")
    with pytest.raises(ConfigError, match=r"c\.toml: \[sweep\] smoothing = 1\.5: must be in"):
        resolve("m.py:build", NONE, None, path)
    with pytest.raises(ConfigError, match="--start-lr 0.0"):
        resolve("m.py:build", {**NONE, "start_lr": 0.0}, None, None)
    # Overridden on the command line, the file's bad value is still named (a run without
    # the flag would get it), and only once, where both are bad.
    path = _write(tmp_path, "[sweep]\nstart_lr = 0\nsteps = 99999999999999999999\n")
    with pytest.raises(ConfigError) as e:
        resolve("m.py:build", {**NONE, "start_lr": 1e-5, "steps": 10}, None, path)
    why = "here; a run without it would stop on it)"
    assert e.value.problems == [
        f"{path}: [sweep] start_lr = 0: must be a finite number > 0 "
        f"(overridden by --start-lr {why}",
        f"{path}: [sweep] steps = 99999999999999999999: must be an integer from 6 to 1,000,000 "
        f"(overridden by --steps {why}",
    ]
    with pytest.raises(ConfigError) as e:
        resolve("m.py:build", {**NONE, "start_lr": -1.0}, None, path)
    assert [p.split(":")[0] for p in e.value.problems] == ["--start-lr -1.0", path, path]


def test_unknown_keys_types_and_ranges_come_in_one_message(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[sweep]\nsteps = -5\nstart_lr = "x"\nbogus = 1\nend_lr = 0\n[optimizer]\nlr = 0.1\n',
    )
    with pytest.raises(ConfigError) as e:
        resolve("m.py:build", NONE, None, path)
    problems = e.value.problems
    assert len(problems) == 5, problems
    wrong_type = "start_lr = 'x' has the wrong type"
    for needle in ["'bogus'", wrong_type, "steps = -5", "end_lr = 0", "lr"]:
        assert any(needle in p for p in problems), (needle, problems)


def test_the_settings_a_file_made_are_named_by_their_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'spec = "m.py:build"\n[sweep]\ndevice = "cpu"\nsteps = 30\n'
        "[build]\nwidth = 3\n[optimizer]\nname = 'adamw'\nbetas = [0.9, 0.95]\n",
    )
    cfg = resolve(None, {**NONE, "steps": 40}, None, path)
    assert dict(cfg.origins) == {
        "spec": f"{path}: spec = 'm.py:build'",
        "device": f"{path}: [sweep] device = 'cpu'",
        "build_kwargs": f"{path}: [build]",
        "optimizer": f"{path}: [optimizer] name = 'adamw'",
        "optimizer_kwargs": f"{path}: [optimizer]",
    }  # steps came from the command line
    cfg = resolve("n.py:build", {**NONE, "device": "cpu"}, ["width=4"], path)
    assert "spec" not in cfg.origins and "device" not in cfg.origins
    assert cfg.origins["build_kwargs"] == f"{path}: [build] or --arg"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('spec = "nope.py:build"\n', "(set by {path}: spec = 'nope.py:build')"),
        ('[sweep]\ndevice = "cuda:7"\n', "(set by {path}: [sweep] device = 'cuda:7')"),
        ("[build]\nwidht = 3\n", "(set by {path}: [build])"),
        ("[optimizer]\nname = 'adamw'\nbetas = 3\n", "(set by {path}: [optimizer])"),
        ("[sweep]\nval_batches = 2\n", "(set by {path}: [sweep] val_batches = 2)"),
        ("[sweep]\nrefine = true\n", "(set by {path}: [sweep] refine = true)"),  # TOML's spelling
    ],
)
def test_an_error_about_a_files_setting_names_the_file(
    text: str, says: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, text)
    spec = [] if text.startswith("spec") else [f"{TINY}:build"]
    result = CliRunner().invoke(
        app, ["run", *spec, "--config", path, "--steps", "20", "--out-dir", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert says.format(path=path) in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_an_error_about_a_flag_names_no_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[sweep]\ndevice = "cpu"\n')
    result = CliRunner().invoke(
        app, ["run", f"{TINY}:build", "--config", path, "--device", "tpu", "--steps", "20"]
    )
    assert result.exit_code == 2 and "--device 'tpu'" in result.stderr, result.output
    assert "set by" not in result.stderr


def test_invalid_toml_gives_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[sweep]\nsteps = 10\nend_lr = = 3\n")
    with pytest.raises(ConfigError, match="line 3"):
        resolve("m.py:build", NONE, None, path)


def test_a_byte_order_mark_is_read_and_other_encodings_are_named(tmp_path: Path) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf[sweep]\nsteps = 50\n")  # as Windows Notepad saves it
    assert load_toml(bom) == {"sweep": {"steps": 50}}
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[build]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text: save it as UTF-8"):
        load_toml(latin)


def test_an_empty_out_dir_is_an_error_not_the_default(tmp_path: Path) -> None:
    # --out-dir "" is an error on the command line; the file says the same.
    path = _write(tmp_path, '[output]\nout_dir = ""\n')
    with pytest.raises(ConfigError, match=r"\[output\] out_dir is empty: give a value"):
        resolve("m.py:build", NONE, None, path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve("m.py:build", NONE, None, str(tmp_path / "nope.toml"))


def test_no_spec_anywhere() -> None:
    with pytest.raises(UsageError, match="no SPEC"):
        resolve(None, NONE, None, None)


def test_shipped_configs_are_valid() -> None:
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))
    assert configs, "configs/ should ship TOML files"
    for path in configs:
        assert path.read_text().startswith("#"), f"{path} should open with a comment"
        resolve("x.py:build", NONE, None, str(path))


def test_the_default_config_is_lrfinds_defaults() -> None:
    """configs/default.toml says "lrfind's defaults, every key written out": each value it
    sets is SweepConfig's, and every [sweep] key is there (commented out where the default
    is unset: diverge_threshold, val_batches, amp, clip_grad)."""
    path = Path(__file__).parents[1] / "configs" / "default.toml"
    flat = parse_config(load_toml(path), str(path))
    defaults = SweepConfig()
    for key, value in flat.items():
        if hasattr(defaults, key):
            assert value == getattr(defaults, key), key
    text = path.read_text()
    from lrfind.config.files import SWEEP_KEYS

    assert all(f"\n{k} = " in text or f"\n# {k} = " in text for k in SWEEP_KEYS)


def test_unknown_names_get_lrfinds_name_or_the_closest() -> None:
    known = ["steps", "start_lr", "end_lr", "smoothing", "diverge_threshold", "accumulate"]
    assert unknown_names(["num_iter", "max_lr", "stepz", "foo", "lr"], known) == [
        "'num_iter' (lrfind calls it steps)",  # torch-lr-finder, ignite
        "'max_lr' (lrfind calls it end_lr)",  # Lightning's Tuner
        "'stepz' (did you mean steps?)",
        "'foo'",
        "'lr' (the sweep sets the LR: give its range as start_lr and end_lr)",
    ]
    # A peer's name for a setting this table does not have is not pointed at it.
    assert unknown_names(["num_it"], ["out_dir", "plot"]) == ["'num_it'"]


def test_a_peers_name_in_a_config_file_or_find_lr_is_answered(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[sweep]\nnum_it = 50\nfoo = 1\n")
    with pytest.raises(ConfigError) as e:
        parse_config(load_toml(path), "c.toml")
    text = str(e.value)
    assert "c.toml: unknown key 'num_it' (lrfind calls it steps) in [sweep]\n" in text + "\n"
    assert "unknown key 'foo' in [sweep] (allowed: start_lr, end_lr, steps," in text
    peer = r"^unknown setting\(s\) 'smooth_f' \(lrfind calls it smoothing\)$"  # no list
    with pytest.raises(ConfigError, match=peer):
        find_lr(*tiny.build(), smooth_f=0.1)


def test_device_names_are_case_blind_as_optimizer_names_are() -> None:
    assert SweepConfig(device="CPU").device == "cpu"
    assert SweepConfig(device=" Cuda:1 ").device == "cuda:1"
    assert SweepConfig(optimizer="AdamW").optimizer == "adamw"


def test_a_config_from_a_pipe_is_read(tmp_path: Path) -> None:
    # `--config <(make-config)` hands lrfind a pipe, not a regular file; it reads as well.
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("[sweep]\nsteps = 40\n"), daemon=True)
    writer.start()
    try:
        assert load_toml(fifo) == {"sweep": {"steps": 40}}
    finally:
        writer.join(timeout=10)
