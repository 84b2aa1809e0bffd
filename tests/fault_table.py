#!/usr/bin/env python
"""The fault table of issue 15: every fault in tests/assets/faults/ through the real CLI.

Each fault is one small record (name, class, argv, setup, expectation). The harness
runs `python -m lrfind ...` (or torchrun) in a subprocess with a timeout, in a fresh
temporary folder $T that is also the cwd, with HOME=$T/home; it captures the exit
code, stdout and stderr and judges them against the contract (docs: /work/shared/
DESIGN.md, README "Command line" and "report.json"):

- the exit code is the expected one (0 a suggestion, 1 the sweep failed or none is
  possible, 2 bad input; 130 / 143 / 129 interrupted by SIGINT / SIGTERM / SIGHUP);
- no "Traceback" (nor "Exception ignored") anywhere without --debug;
- a failure says so on stderr: at most 2 lines of lrfind's own (the user's output,
  accepted warnings and "Wrote ..." aside), the first "Error: ..." (or "Interrupted");
  none longer than 400 characters;
- stdout is the result only: valid JSON with --json, one number with -q, empty on a
  usage error; never a line the user's code printed;
- report.json is kept where the contract keeps partial results (and nowhere it must
  not be), and the message names the problem and its fix (`says`).

Every line the corpus prints itself contains "[user]", so the user's output can be
told from lrfind's. This is a harness, not a test: it records how lrfind behaves
today (issue 15: BEFORE.md) and after the fixes.

    python tests/fault_table.py                      # the whole table: ~800 s of CPU
                                                     # (~7 min on 2 idle cores, 17 at load 8)
    python tests/fault_table.py --list               # the faults, one per line
    python tests/fault_table.py --only a_print_build_json --only 'i_show_*' -v
    python tests/fault_table.py --markdown table.md  # also write the table to a file
    python tests/fault_table.py --root /tmp/other-checkout   # probe another lrfind

Some probes need root (to mount a small or read-only tmpfs); without it they run a
fallback (RLIMIT_FSIZE, chmod) or are marked "skipped".
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAULTS = REPO / "tests" / "assets" / "faults"
USER_MARK = "[user]"
MAX_LINE = 400  # characters: a "line" longer than this is a paste, not a message
CLASSES = {
    "a": "stdout pollution",
    "b": "the user's code ends lrfind",
    "c": "tracebacks from set-up",
    "d": "torch's message where lrfind knows the mistake",
    "e": "too-small sweeps",
    "f": "signals",
    "g": "paths and disks",
    "h": "torchrun",
    "i": "show / compare / schedule / diagnose inputs",
    "x": "environment and config (beyond the issue's list)",
}


class Skip(Exception):
    """A probe that cannot run here (e.g. it needs root); the table says why."""


@dataclass
class Ctx:
    """One probe's world: its temporary folder $T (the cwd), $T/home and clean-ups."""

    tmp: Path
    root: Path  # the lrfind checkout under test
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.tmp / "home"

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def fill(self, text: str) -> str:
        return (
            text.replace("{F}", str(FAULTS))
            .replace("{T}", str(self.tmp))
            .replace("{H}", str(self.home))
            .replace("{A}", str(REPO / "tests" / "assets"))
        )

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path


@dataclass
class Outcome:
    code: int | None  # None: killed by the harness after the timeout
    stdout: str
    stderr: str
    wall_s: float
    tmp: Path


Check = Callable[[Outcome, Ctx], "str | None"]  # a failure reason, or None


@dataclass
class Fault:
    """One fault: how to provoke it, and what the contract says should happen.

    argv: after `lrfind` ({F} faults folder, {T} temporary cwd, {H} its HOME,
    {A} tests/assets). code: the accepted exit code(s). stdout: "json", "number",
    "empty" or "any"; None derives it from argv. report: "kept" ($T/out/report.json
    must exist and be whole), "none" (must not exist), "old" (the report seeded by the
    setup survives unchanged), None (not judged). says: regexes the stderr must match
    (the message names the problem or the fix).
    """

    name: str
    cls: str
    what: str
    argv: list[str]
    code: int | tuple[int, ...]
    stdout: str | None = None
    report: str | None = None
    says: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    setup: Callable[[Ctx], None] | None = None
    drive: Callable[[subprocess.Popen, Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120
    launcher: str = "lrfind"  # or "torchrun"
    stdout_to: str = "pipe"  # "pipe", "devfull" or "broken" (the reader has gone)
    limits: dict[int, int] = field(default_factory=dict)  # resource.RLIMIT_* -> soft/hard
    silent_ok: bool = False  # a nonzero exit may say nothing (the reader of stdout has gone)

    @property
    def codes(self) -> tuple[int, ...]:
        return self.code if isinstance(self.code, tuple) else (self.code,)


# --- setups -------------------------------------------------------------------------


def files(contents: dict[str, str]) -> Callable[[Ctx], None]:
    """Write files into $T (relative names; texts may use {F} {T} {H})."""

    def setup(ctx: Ctx) -> None:
        for name, text in contents.items():
            ctx.write(name, ctx.fill(text))

    return setup


def copies(*pairs: tuple[str, str]) -> Callable[[Ctx], None]:
    """Copy corpus files into $T: (source under faults/, destination under $T)."""

    def setup(ctx: Ctx) -> None:
        for src, dst in pairs:
            target = ctx.tmp / ctx.fill(dst)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(FAULTS / src, target)

    return setup


def chain(*setups: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        for s in setups:
            s(ctx)

    return setup


def old_report(ctx: Ctx, folder: Path | None = None) -> None:
    """An earlier run's report in $T/out: it must survive a run that fails before writing."""
    folder = folder or ctx.out
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text('{"from": "an earlier run"}\n')


def _is_root() -> bool:
    return os.geteuid() == 0


def tmpfs(ctx: Ctx, rel: str, size: str = "64k") -> Path:
    """Mount a tmpfs at $T/rel (root only); unmounted when the probe ends."""
    if not _is_root():
        raise Skip("needs root to mount a tmpfs")
    path = ctx.tmp / rel
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    ctx.cleanups.append(lambda: subprocess.run(["umount", "-l", str(path)], check=False))
    return path


def remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def read_only_dir(rel: str, seed: Callable[[Path], None] | None = None) -> Callable[[Ctx], None]:
    """$T/rel that nobody can write to: a read-only tmpfs as root, chmod 0555 otherwise."""

    def setup(ctx: Ctx) -> None:
        if _is_root():
            path = tmpfs(ctx, rel, "1m")
            if seed:
                seed(path)
            remount_ro(path)
        else:
            path = ctx.tmp / rel
            path.mkdir(parents=True)
            if seed:
                seed(path)
            path.chmod(0o555)
            ctx.cleanups.append(lambda: path.chmod(0o755))

    return setup


def full_disk(ctx: Ctx) -> None:
    """$T/full: a 64 KiB tmpfs holding an earlier report.json, then filled to the last byte."""
    path = tmpfs(ctx, "full", "64k")
    old_report(ctx, path / "out")
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)


def generated(rel: str, make: Callable[[], str | bytes]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.write(rel, make())

    return setup


def nested_json() -> str:
    return "[" * 100_000 + "]" * 100_000


def huge_report() -> str:
    """good.json with a history of 1,000,000 points (about 60 MB)."""
    report = json.loads((FAULTS / "reports" / "good.json").read_text())
    n = 1_000_000
    lrs = [1e-7 * 10 ** (8 * i / (n - 1)) for i in range(n)]
    losses = [2.0 + math.sin(i / 1000) for i in range(n)]
    report["history"] = {"lr": lrs, "loss": losses, "smoothed_loss": losses}
    report["steps_run"] = n
    return json.dumps(report)


def big_field_csv() -> str:
    return (
        "step,train_loss\n"
        + "".join(f"{i},{2.0 - i / 10}\n" for i in range(8))
        + ("9," + "1" * 200_000 + "\n")
    )


def nested_toml() -> str:
    return "[sweep]\nsteps = 20\n[build]\nx = " + "[" * 50_000 + "]" * 50_000 + "\n"


_RUN_CACHE: dict[tuple[str, ...], Path] = {}
_LIVE: set[int] = set()  # process groups of the probes running now (ended if the harness is)


def report_of_run(spec: str, dest: str, *extra: str) -> Callable[[Ctx], None]:
    """Run `lrfind run spec` once (per harness run) and copy its report to $T/dest."""

    def setup(ctx: Ctx) -> None:
        key = (str(ctx.root), spec, *extra)
        if key not in _RUN_CACHE:
            folder = Path(tempfile.mkdtemp(prefix="lrfind-fault-run-"))
            argv = ["run", ctx.fill(spec), "--steps", "20", "--no-plot", *extra]
            subprocess.run(
                [sys.executable, "-m", "lrfind", *argv, "--out-dir", str(folder)],
                cwd=folder,
                env=_env(ctx, {}),
                capture_output=True,
                timeout=120,
                check=False,
            )
            if not (folder / "report.json").exists():
                raise Skip(f"`lrfind run {spec}` wrote no report to start from")
            _RUN_CACHE[key] = folder / "report.json"
        target = ctx.tmp / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_RUN_CACHE[key], target)

    return setup


# --- signals ------------------------------------------------------------------------


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 90) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Skip(f"{path.name} never appeared (the process ended or was too slow)")
        time.sleep(0.05)


def signals(*plan: tuple[str, int]) -> Callable[[subprocess.Popen, Ctx], None]:
    """Wait for each marker ($T/NAME), then send its signal (SIGINT to the process group,
    as a terminal's Ctrl-C does; the others to the lrfind process, as kill, timeout(1),
    CI runners and Kubernetes do)."""

    def drive(proc: subprocess.Popen, ctx: Ctx) -> None:
        for marker, sig in plan:
            _wait_for(ctx.tmp / marker, proc)
            time.sleep(0.3)  # a few steps (20 ms each), or into the slow fsync
            if sig == signal.SIGINT:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    return drive


SLOW = {"LRFIND_FAULT_MARKER": "{T}/sweeping"}
SLOW_FS = {
    **SLOW,
    "PYTHONPATH+": "{F}/slowfs",
    "LRFIND_FAULT_SLOW_DIR": "{T}/out",
    "LRFIND_FAULT_SLOW_S": "3",
}
LONG_SWEEP = ["--steps", "100000", "--end-lr", "1e-3", "--diverge-threshold", "1e9"]


# --- extra checks -------------------------------------------------------------------


def report_at(rel: str, **want: object) -> Check:
    """$T/rel is a whole report.json (with these top-level values)."""

    def check(o: Outcome, ctx: Ctx) -> str | None:
        path = ctx.tmp / rel
        if not path.is_file():
            return f"no report at $T/{rel}"
        try:
            report = json.loads(path.read_text())
        except ValueError:
            return f"$T/{rel} is not whole JSON"
        for key, value in want.items():
            if report.get(key) != value:
                return f"report {key} is {report.get(key)!r}, expected {value!r}"
        return None

    return check


def absent(rel: str) -> Check:
    def check(o: Outcome, ctx: Ctx) -> str | None:
        return f"$T/{rel} was created" if (ctx.tmp / rel).exists() else None

    return check


def old_report_in(rel: str) -> Check:
    def check(o: Outcome, ctx: Ctx) -> str | None:
        path = ctx.tmp / rel / "report.json"
        try:
            same = json.loads(path.read_text()) == {"from": "an earlier run"}
        except (OSError, ValueError):
            same = False
        leftovers = [p.name for p in (ctx.tmp / rel).glob(".*.tmp")]
        if leftovers:
            return f"temporary files left: {', '.join(leftovers)}"
        return None if same else "the earlier report.json did not survive"

    return check


def shows_suggestion(o: Outcome, ctx: Ctx) -> str | None:
    """The LR the sweep found is printed even though the outputs could not be written."""
    lr = re.search(r"\b\d(\.\d+)?e-\d\d\b|\b0\.0\d+\b|suggest", o.stdout + o.stderr, re.I)
    return None if lr else "the suggestion the sweep found is not shown"


def true_nothing_written(o: Outcome, ctx: Ctx) -> str | None:
    """A message that says nothing was written must be true."""
    says_nothing = re.search(r"nothing (was|is) written", o.stderr)
    if says_nothing and (ctx.out / "report.json").exists():
        return "says 'nothing was written' but report.json was"
    if "before the sweep started" in o.stderr and (ctx.tmp / "sweeping").exists():
        return "says 'before the sweep started' after the sweep ran"
    return None


def no_usable_curve_suggestion(o: Outcome, ctx: Ctx) -> str | None:
    if o.code == 0 and "no usable curve" in o.stdout + o.stderr:
        return "exit 0 with a suggestion under 'no usable curve'"
    return None


def not_advising(pattern: str) -> Check:
    def check(o: Outcome, ctx: Ctx) -> str | None:
        return f"advises {pattern!r}" if re.search(pattern, o.stderr) else None

    return check


def within(seconds: float) -> Check:
    def check(o: Outcome, ctx: Ctx) -> str | None:
        return f"took {o.wall_s:.0f} s (> {seconds:.0f} s)" if o.wall_s > seconds else None

    return check


def if_code(code: int, pattern: str, reason: str) -> Check:
    def check(o: Outcome, ctx: Ctx) -> str | None:
        return reason if o.code == code and not re.search(pattern, o.stderr, re.I) else None

    return check


# --- the corpus ---------------------------------------------------------------------

F_ = "{F}/"
RUN20 = ["--steps", "20", "--no-plot", "--out-dir", "{T}/out"]
G = F_ + "reports/good.json"
ASLIMIT = {resource.RLIMIT_AS: 2 << 30}  # 2 GiB: reading /dev/zero ends in MemoryError


def run(spec: str, *extra: str) -> list[str]:
    """`lrfind run faults/SPEC`: 20 steps, no plot, into $T/out (unless `extra` says otherwise)."""
    steps = [] if "--steps" in extra else ["--steps", "20"]
    out = [] if "--out-dir" in extra else ["--out-dir", "{T}/out"]
    return ["run", F_ + spec, *steps, "--no-plot", *out, *extra]


# One record per fault, one or two lines each: kept as written, a table to read down.
# fmt: off
FAULT_LIST: list[Fault] = [
    # (a) stdout pollution: with --json / -q stdout must stay exactly the result.
    Fault("a_print_import_json", "a", "print at import", run("print_import.py:build", "--json"), 0),
    Fault("a_print_import_quiet", "a", "print at import", run("print_import.py:build", "-q"), 0),
    Fault("a_print_build_json", "a", "print in build()", run("print_build.py:build", "--json"), 0),
    Fault("a_print_forward_json", "a", "print in forward()",
          run("print_forward.py:build", "--json"), 0),
    Fault("a_print_forward_plain", "a", "print in forward(), terminal output",
          run("print_forward.py:build"), 0),
    Fault("a_print_worker_fork_json", "a", "print in DataLoader workers (fork, 2 workers)",
          run("print_worker.py:build", "--json"), 0),
    Fault("a_print_worker_spawn_json", "a", "print in DataLoader workers (spawn, 2 workers)",
          run("print_worker.py:build", "--json", "--arg", "context=spawn"), 0, timeout=180),
    Fault("a_fd1_write_json", "a", "os.write(1, ...) in forward(), as C extensions do",
          run("print_fd1.py:build", "--json"), 0),
    Fault("a_subprocess_json", "a", "build() runs a child process that prints",
          run("print_subprocess.py:build", "--json"), 0),
    Fault("a_atexit_json", "a", "an atexit hook that prints",
          run("print_atexit.py:build", "--json"), 0),
    Fault("a_logging_stdout_json", "a", "logging.basicConfig(stream=sys.stdout) at import",
          run("logging_stdout.py:build", "--json"), 0),
    # (b) the user's code ends lrfind: an error (exit 2), never a silent exit.
    Fault("b_exit0_build", "b", "sys.exit(0) in build()", run("exit_build.py:build", "--json"),
          2, report="none", says=(r"build\(\)|exit",)),
    Fault("b_exit3_build", "b", "sys.exit(3) in build()",
          run("exit_build.py:build", "--arg", "code=3"), 2, says=(r"exit\w* with code 3",)),
    Fault("b_systemexit_message_build", "b", "raise SystemExit('...') in build()",
          run("exit_build.py:build", "--arg", "message=dataset-missing"), 2,
          says=(r"^Error: .*dataset-missing",)),
    Fault("b_exit0_import", "b", "sys.exit(0) at import", run("exit_import0.py:build", "-q"),
          2, says=(r"importing .*exit_import0\.py exited with code 0",)),
    Fault("b_exit3_import", "b", "sys.exit(3) at import", run("exit_import3.py:build"),
          2, says=(r"exited with code 3",)),
    Fault("b_argparse_import", "b", "argparse.parse_args() at module level, all options "
          "optional (sys.argv is the file alone: it takes its defaults, as `python file.py`)",
          run("argparse_import.py:build"), 0),
    Fault("b_argparse_required", "b", "argparse.parse_args() at module level, a required option",
          run("argparse_required.py:build"), 2,
          says=(r"__name__ == .__main__.", r"required: --data")),
    Fault("b_exit_forward", "b", "sys.exit(0) in forward() at step 5",
          run("exit_forward.py:build"), 1, report="kept", says=(r"step 5/20",)),
    Fault("b_baseexception_build", "b", "build() raises a BaseException subclass",
          run("base_exception_build.py:build"), 2, says=(r"Cancelled",)),
    # (c) set-up of the sweep: one error path, no traceback.
    Fault("c_meta_device", "c", "model on the meta device", run("meta_device.py:build"), 2,
          says=(r"meta",)),
    Fault("c_val_raises_val_batches", "c", "val dataset raises, with --val-batches 2",
          run("val_raises.py:build", "--val-batches", "2"), (1, 2),
          says=(r"FileNotFoundError.*val/image_0",)),
    Fault("c_val_raises", "c", "val dataset raises, no --val-batches (control)",
          run("val_raises.py:build"), 1, says=(r"FileNotFoundError",)),
    Fault("c_to_raises", "c", "the model's .to() raises", run("to_raises.py:build"), (1, 2),
          says=(r"cannot be moved",)),
    Fault("c_iter_raises", "c", "train_loader.__iter__ raises", run("iter_raises.py:build"),
          (1, 2), says=(r"ConnectionError",)),
    Fault("c_compile_no_compiler", "c", "--compile without a working C++ compiler (CXX bogus)",
          run("compile_model.py:build", "--compile"), (1, 2), says=(r"compil",),
          env={"CXX": "/nonexistent/g++", "CC": "/nonexistent/gcc",
               "TORCHINDUCTOR_CACHE_DIR": "{T}/inductor"}, timeout=300),
    # (d) known mistakes: name them and the fix.
    Fault("d_loss_class_mse", "d", "nn.MSELoss without ()", run("loss_class.py:build"), 2,
          says=(r"MSELoss\(\)",)),
    Fault("d_loss_class_ce", "d", "nn.CrossEntropyLoss without ()",
          run("loss_class_ce.py:build"), 2, says=(r"CrossEntropyLoss\(\)",)),
    Fault("d_step_fn_backward", "d", "step_fn calls loss.backward() itself",
          run("step_fn_backward.py:build"), 2, says=(r"step_fn.*backward",),
          checks=(not_advising(r"retain_graph=True"),)),
    Fault("d_step_fn_signature", "d", "step_fn(batch) instead of step_fn(model, batch)",
          run("step_fn_signature.py:build"), 2, says=(r"step_fn\(model, batch\)",)),
    Fault("d_spec_instance", "d", "SPEC names a model instance (file.py:model)",
          run("spec_instance.py:model"), 2,
          says=(r"is an? (torch\.nn\.)?Linear\b|not a function",)),
    Fault("d_spec_loader", "d", "SPEC names a DataLoader instance",
          run("spec_loader.py:train_loader"), 2, says=(r"DataLoader",)),
    Fault("d_batchnorm_last_batch_of_1", "d", "BatchNorm, 64 samples, batch_size=21",
          run("batchnorm.py:build"), (1, 2), says=(r"drop_last",)),
    Fault("d_batchnorm_batch_size_1", "d", "BatchNorm with batch_size=1",
          run("batchnorm.py:build", "--arg", "batch_size=1"), (1, 2),
          says=(r"--arg batch_size|batch_size=|batch of (1|one)",)),
    Fault("d_worker_error", "d", "__getitem__ raises in a DataLoader worker (num_workers=2)",
          run("worker_error.py:build"), 1, says=(r"corrupt JPEG header",)),
    Fault("d_spawn_hyphen", "d", "spawn workers, Dataset defined in my-model.py",
          run("my-model.py:build"), (0, 2), timeout=240,
          checks=(if_code(2, r"rename|hyphen|module name", "exit 2 without the fix (rename)"),)),
    Fault("d_spawn_control", "d", "the same file as spawn_model.py (control)",
          ["run", "{T}/spawn_model.py:build", *RUN20], 0, timeout=240,
          setup=copies(("my-model.py", "spawn_model.py"), ("faultkit.py", "faultkit.py"))),
    Fault("d_weight_norm_old", "d", "torch.nn.utils.weight_norm model",
          run("weight_norm.py:build"), 2, says=(r"parametrizations\.weight_norm",)),
    Fault("d_weight_norm_parametrizations", "d", "parametrizations.weight_norm (control)",
          run("weight_norm.py:build", "--arg", "api=param"), 0),
    # (e) too small for a suggestion: a usage error that names the minimum.
    Fault("e_steps_2", "e", "--steps 2", run("faultkit.py:build", "--steps", "2"), 2,
          says=(r"--steps 2.*\d",), checks=(no_usable_curve_suggestion,)),
    Fault("e_steps_5", "e", "--steps 5", run("faultkit.py:build", "--steps", "5"), 2,
          checks=(no_usable_curve_suggestion,)),
    Fault("e_steps_5_api", "e", "find_lr(steps=5) (the API's check is the CLI's)",
          ["run", "{T}/api.py:build", *RUN20], 2, says=(r"steps = 5: too few.*at least 6",),
          setup=files({"api.py": "import sys\nsys.path.insert(0, '{F}')\nimport faultkit\n"
                       "from lrfind import find_lr\n\ndef build():\n"
                       "    find_lr(*faultkit.build(), steps=5)\n"})),
    Fault("e_steps_6", "e", "--steps 6 (the minimum: 3 points left after the trims)",
          run("faultkit.py:build", "--steps", "6"), (0, 1),
          checks=(no_usable_curve_suggestion,)),
    Fault("e_steps_2_config", "e", "steps = 2 in a config",
          ["run", F_ + "faultkit.py:build", "-c", F_ + "configs/steps2.toml",
           "--out-dir", "{T}/out"], 2, checks=(no_usable_curve_suggestion,)),
    Fault("e_narrow_range", "e", "--start-lr 1e-3 --end-lr 1.2e-3: 0.08 decades (proposal: "
          "no suggestion pinned at --start-lr)",
          run("faultkit.py:build", "--start-lr", "1e-3", "--end-lr", "1.2e-3"), (1, 2),
          checks=(no_usable_curve_suggestion,)),
    Fault("e_steps_0", "e", "--steps 0 (control)", run("faultkit.py:build", "--steps", "0"), 2),
    # (f) signals: stop at a step, keep the partial report, a true message.
    Fault("f_sigterm_mid_sweep", "f", "SIGTERM mid-sweep",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--no-plot", "--out-dir", "{T}/out"],
          143, env=SLOW, drive=signals(("sweeping", signal.SIGTERM)),
          checks=(report_at("out/report.json", stop_reason="interrupted"),)),
    Fault("f_sigint_mid_sweep", "f", "SIGINT mid-sweep (control)",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--no-plot", "--out-dir", "{T}/out"],
          130, env=SLOW, drive=signals(("sweeping", signal.SIGINT)),
          checks=(report_at("out/report.json", stop_reason="interrupted"),)),
    Fault("f_sighup_mid_sweep", "f", "SIGHUP mid-sweep (terminal or ssh closed)",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--no-plot", "--out-dir", "{T}/out"],
          129, report="kept", env=SLOW, drive=signals(("sweeping", signal.SIGHUP))),
    Fault("f_second_sigint_while_writing", "f", "SIGINT, then SIGINT in a slow fsync",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--no-plot", "--out-dir", "{T}/out"],
          130, report="kept", env=SLOW_FS, checks=(true_nothing_written,),
          drive=signals(("sweeping", signal.SIGINT), ("fsync-started", signal.SIGINT))),
    Fault("f_second_sigterm_while_writing", "f", "SIGTERM, then SIGTERM in a slow fsync",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--no-plot", "--out-dir", "{T}/out"],
          143, report="kept", env=SLOW_FS, checks=(true_nothing_written,),
          drive=signals(("sweeping", signal.SIGTERM), ("fsync-started", signal.SIGTERM))),
    Fault("f_second_sigint_while_plotting", "f", "SIGINT, then SIGINT in the plot's slow fsync",
          ["run", F_ + "slow.py:build", *LONG_SWEEP, "--out-dir", "{T}/out"],
          130, report="kept", env={**SLOW_FS, "LRFIND_FAULT_SLOW_MATCH": ".lr_finder.png."},
          checks=(true_nothing_written,),
          drive=signals(("sweeping", signal.SIGINT), ("fsync-started", signal.SIGINT))),
    Fault("f_sigterm_in_build", "f", "SIGTERM while build() runs",
          ["run", F_ + "slow.py:build", "--arg", "build_sleep=60", *RUN20], 143,
          report="none", env=SLOW, drive=signals(("sweeping.build", signal.SIGTERM))),
    Fault("f_sigint_in_build", "f", "SIGINT while build() runs (control)",
          ["run", F_ + "slow.py:build", "--arg", "build_sleep=60", *RUN20], 130,
          report="none", env=SLOW, drive=signals(("sweeping.build", signal.SIGINT)),
          checks=(true_nothing_written,)),
    Fault("f_broken_pipe_run_json", "f", "run --json | a reader that has gone (SIGPIPE)",
          run("faultkit.py:build", "--json"), (0, 1, 141), stdout="any", stdout_to="broken",
          silent_ok=True, report="kept"),
    Fault("f_broken_pipe_show", "f", "show | a reader that has gone",
          ["show", G, "--no-plot"], (0, 1, 141), stdout="any", stdout_to="broken",
          silent_ok=True),
    # (g) paths resolved once; a failed write still shows the suggestion.
    Fault("g_chdir_import", "g", "os.chdir at import, relative --out-dir",
          ["run", F_ + "chdir_import.py:build", "--steps", "20", "--no-plot", "--out-dir", "out"],
          0, report="kept", env={"LRFIND_FAULT_CHDIR": "{T}/elsewhere"}),
    Fault("g_chdir_build", "g", "os.chdir in build(), relative --out-dir",
          ["run", F_ + "chdir_build.py:build", "--steps", "20", "--no-plot", "--out-dir", "out"],
          0, report="kept", env={"LRFIND_FAULT_CHDIR": "{T}/elsewhere"}),
    Fault("g_tilde_config_out_dir", "g", 'out_dir = "~/lrfind-runs/tilde" in a config',
          ["run", F_ + "faultkit.py:build", "-c", F_ + "configs/tilde_out_dir.toml"], 0,
          checks=(report_at("home/lrfind-runs/tilde/report.json"), absent("~"))),
    Fault("g_tilde_out_dir_arg", "g", "--out-dir '~/x' (quoted, not expanded by a shell)",
          ["run", F_ + "faultkit.py:build", "--steps", "20", "--no-plot", "--out-dir", "~/x"], 0,
          checks=(report_at("home/x/report.json"), absent("~"))),
    Fault("g_tilde_config_path", "g", "--config '~/c.toml'",
          ["run", F_ + "faultkit.py:build", "-c", "~/c.toml", "--out-dir", "{T}/out"], 0,
          report="kept", setup=files({"home/c.toml": "[sweep]\nsteps = 20\n"})),
    Fault("g_tilde_spec", "g", "SPEC '~/model.py:build'",
          ["run", "~/model.py:build", *RUN20], 0, report="kept",
          setup=copies(("faultkit.py", "home/model.py"))),
    Fault("g_full_disk", "g", "--out-dir on a full 64 KiB tmpfs (an earlier report there)",
          ["run", F_ + "faultkit.py:build", "--steps", "20", "--no-plot",
           "--out-dir", "{T}/full/out"], 1, setup=full_disk,
          says=(r"space|full",), checks=(shows_suggestion, old_report_in("full/out"))),
    Fault("g_file_too_large", "g", "writes fail with EFBIG (RLIMIT_FSIZE 4 KiB, no root needed)",
          ["run", F_ + "faultkit.py:build", "--steps", "20", "--no-plot", "--out-dir", "{T}/out"],
          1, setup=old_report, checks=(shows_suggestion, old_report_in("out")),
          limits={resource.RLIMIT_FSIZE: 4096}),
    Fault("g_out_dir_read_only", "g", "--out-dir inside a read-only folder (control)",
          run("faultkit.py:build", "--out-dir", "{T}/ro/out"), 2, report="none",
          setup=read_only_dir("ro")),
    Fault("g_report_path_is_folder", "g", "a folder named report.json in --out-dir",
          run("faultkit.py:build"), (1, 2), setup=lambda ctx: (ctx.out / "report.json").mkdir(
              parents=True), says=(r"report\.json",), checks=(
              if_code(1, r"\d\.\d+e-\d\d|suggest", "the suggestion is not shown"),)),
    Fault("g_out_dir_dangling_symlink", "g", "--out-dir is a dangling symlink",
          run("faultkit.py:build"), 2,
          setup=lambda ctx: (ctx.tmp / "out").symlink_to(ctx.tmp / "gone")),
    Fault("g_stdout_disk_full", "g", "run --json > /dev/full (stdout on a full disk)",
          run("faultkit.py:build", "--json"), 1, stdout="any", stdout_to="devfull",
          says=(r"stdout|space",)),
    # (h) torchrun: lrfind's message, no raw traceback from a rank.
    Fault("h_rank_hangs_in_build", "h", "rank 1 hangs in build(), --dist-timeout 5",
          ["run", F_ + "ranks_fault.py:build", "--device", "cpu", "--dist-timeout", "5",
           *RUN20], 1, launcher="torchrun", says=(r"--dist-timeout 5",), timeout=150),
    Fault("h_rank_exits_in_build", "h", "rank 1 calls sys.exit(0) in build()",
          ["run", F_ + "ranks_fault.py:build", "--arg", "mode=exit", "--device", "cpu",
           "--dist-timeout", "5", *RUN20], (1, 2), launcher="torchrun", timeout=150,
          says=(r"rank 1",)),
    Fault("h_rank_prints_json", "h", "rank 1 prints in build(), --json",
          ["run", F_ + "ranks_fault.py:build", "--arg", "mode=print", "--device", "cpu",
           "--dist-timeout", "30", *RUN20, "--json"], 0, launcher="torchrun", timeout=150),
    # (i) show / compare / schedule / diagnose: exit 2 and one line for any bad input.
    Fault("i_show_suggestions_list", "i", "report: suggestions is a list",
          ["show", F_ + "reports/suggestions_list.json", "--no-plot"], 2),
    Fault("i_show_config_list", "i", "report: config is a list",
          ["show", F_ + "reports/config_list.json", "--no-plot"], 2),
    Fault("i_show_history_list", "i", "report: history is a list",
          ["show", F_ + "reports/history_list.json", "--no-plot"], 2),
    Fault("i_show_reasons_list", "i", "report: no_suggestion_reasons is a list",
          ["show", F_ + "reports/reasons_list.json", "--no-plot"], 2),
    Fault("i_show_environment_str", "i", "report: environment is a string",
          ["show", F_ + "reports/environment_str.json", "--no-plot"], 2),
    Fault("i_show_timing_str", "i", 'report: timing.sweep_s is "0.2 s"',
          ["show", F_ + "reports/timing_str.json", "--no-plot"], 2),
    Fault("i_show_warnings_int", "i", "report: warnings is 3",
          ["show", F_ + "reports/warnings_int.json", "--no-plot"], 2),
    Fault("i_show_history_str", "i", 'report: a loss is "n/a"',
          ["show", F_ + "reports/history_str.json", "--no-plot"], 2),
    Fault("i_show_config_str", "i", 'report: config.steps is "30"',
          ["show", F_ + "reports/config_str.json", "--no-plot"], (0, 2)),
    Fault("i_show_lr_str", "i", 'report: suggested_lr is a string (control)',
          ["show", F_ + "reports/lr_str.json", "--no-plot"], 2),
    Fault("i_show_missing_history", "i", "report: no history",
          ["show", F_ + "reports/missing_history.json", "--no-plot"], 2),
    Fault("i_show_missing_stop_reason", "i", "report: no stop_reason (control)",
          ["show", F_ + "reports/missing_stop_reason.json", "--no-plot"], 2),
    Fault("i_show_nan_literals", "i", "report: NaN / Infinity literals",
          ["show", F_ + "reports/nan_literals.json", "--no-plot"], (0, 2)),
    Fault("i_show_nested", "i", "report: 100,000 nested lists",
          ["show", "{T}/nested.json", "--no-plot"], 2, setup=generated("nested.json", nested_json)),
    Fault("i_show_huge", "i", "report: a 1,000,000-point history (~60 MB)",
          ["show", "{T}/huge.json", "--no-plot"], (0, 2), checks=(within(60),),
          setup=generated("huge.json", huge_report)),
    Fault("i_show_dev_zero", "i", "show /dev/zero (endless input; 2 GiB address space)",
          ["show", "/dev/zero", "--no-plot"], 2, limits=ASLIMIT, timeout=60),
    Fault("i_show_out_dir_is_file", "i", "show --out-dir FILE",
          ["show", G, "--out-dir", "{T}/file.txt"], 2, setup=files({"file.txt": "x"})),
    Fault("i_show_out_dir_read_only", "i", "show --out-dir READ-ONLY",
          ["show", G, "--out-dir", "{T}/ro"], 2, setup=read_only_dir("ro")),
    Fault("i_show_report_in_read_only_dir", "i", "show a report in a read-only folder",
          ["show", "{T}/ro/report.json"], 2, setup=read_only_dir(
              "ro", lambda p: shutil.copy(FAULTS / "reports" / "good.json", p / "report.json"))),
    Fault("i_run_fails_at_step_1", "i", "run: forward() raises at step 1",
          run("raises_step1.py:build"), 1, says=(r"expected 16 channels",),
          checks=(report_at("out/report.json", stop_reason="error", steps_run=0),)),
    Fault("i_show_failed_at_step_1", "i", "show the partial report of a sweep failed at step 1",
          ["show", "{T}/failed/report.json", "--no-plot"], 1, says=(r"expected 16 channels",),
          setup=report_of_run(F_ + "raises_step1.py:build", "failed/report.json")),
    Fault("i_show_failed_at_step_5", "i", "show the partial report of a sweep failed at step 5",
          ["show", "{T}/failed/report.json", "--no-plot"], 1, says=(r"cuDNN-like failure",),
          setup=report_of_run(F_ + "raises_step5.py:build", "failed/report.json")),
    Fault("i_compare_nested", "i", "compare with a 100,000-deep nested report",
          ["compare", G, "{T}/nested.json"], 2, setup=generated("nested.json", nested_json)),
    Fault("i_compare_lr_str", "i", "compare: suggested_lr is a string (control)",
          ["compare", G, F_ + "reports/lr_str.json"], 2),
    Fault("i_compare_failed_at_step_1", "i", "compare with a failed sweep's report",
          ["compare", G, "{T}/failed/report.json"], 1, stdout="any", silent_ok=True,
          checks=(lambda o, ctx: None if "FAIL" in o.stdout else "no FAIL line on stdout",),
          setup=report_of_run(F_ + "raises_step1.py:build", "failed/report.json")),
    Fault("i_schedule_div_factor_0", "i", "schedule onecycle --div-factor 0",
          ["schedule", "onecycle", "--lr", "0.1", "--div-factor", "0", "--no-plot"], 2),
    Fault("i_schedule_final_div_factor_0", "i", "schedule onecycle --final-div-factor 0",
          ["schedule", "onecycle", "--lr", "0.1", "--final-div-factor", "0", "--no-plot"], 2),
    Fault("i_schedule_pct_start_0", "i", "schedule onecycle --pct-start 0",
          ["schedule", "onecycle", "--lr", "0.1", "--pct-start", "0", "--no-plot"], (0, 2),
          stdout="any"),
    Fault("i_schedule_step_size_0", "i", "schedule steplr --step-size 0",
          ["schedule", "steplr", "--lr", "0.1", "--step-size", "0", "--no-plot"], 2),
    Fault("i_schedule_step_size_negative", "i", "schedule steplr --step-size -3",
          ["schedule", "steplr", "--lr", "0.1", "--step-size", "-3", "--no-plot"], 2),
    Fault("i_schedule_gamma_0_log_y", "i", "schedule steplr --gamma 0 --log-y (LR 0 on a log axis)",
          ["schedule", "steplr", "--lr", "0.1", "--gamma", "0", "--log-y", "--out-dir", "{T}/s"],
          (0, 2), stdout="any"),
    Fault("i_schedule_gamma_negative", "i", "schedule exponentiallr --gamma -1",
          ["schedule", "exponentiallr", "--lr", "0.1", "--gamma", "-1", "--no-plot"], 2),
    Fault("i_schedule_t0_0", "i", "schedule sgdr --t0 0",
          ["schedule", "sgdr", "--lr", "0.1", "--t0", "0", "--no-plot"], 2),
    Fault("i_schedule_step_size_up_0", "i", "schedule cyclic --step-size-up 0",
          ["schedule", "cyclic", "--lr", "0.1", "--step-size-up", "0", "--no-plot"], 2),
    Fault("i_schedule_steps_1", "i", "schedule onecycle --steps 1 (control)",
          ["schedule", "onecycle", "--lr", "0.1", "--steps", "1", "--no-plot"], 2),
    Fault("i_schedule_out_dir_is_file", "i", "schedule --out-dir FILE",
          ["schedule", "onecycle", "--lr", "0.1", "--out-dir", "{T}/file.txt"], 2,
          setup=files({"file.txt": "x"})),
    Fault("i_schedule_png_is_folder", "i", "schedule: a folder named schedules.png in --out-dir",
          ["schedule", "onecycle", "--lr", "0.1", "--out-dir", "{T}/d"], 2,
          says=(r"schedules\.png",), setup=lambda ctx: (ctx.tmp / "d" / "schedules.png").mkdir(
              parents=True)),
    Fault("i_schedule_out_read_only", "i", "schedule --out-dir READ-ONLY",
          ["schedule", "onecycle", "--lr", "0.1", "--out-dir", "{T}/ro"], 2,
          setup=read_only_dir("ro")),
    Fault("i_schedule_from_nested_report", "i", "schedule --from-report NESTED",
          ["schedule", "onecycle", "--from-report", "{T}/nested.json", "--no-plot"], 2,
          setup=generated("nested.json", nested_json)),
    Fault("i_schedule_from_config_list_report", "i", "schedule --from-report with history a list",
          ["schedule", "onecycle", "--from-report", F_ + "reports/history_list.json",
           "--no-plot"], 0, stdout="any"),
    Fault("i_schedule_plateau_nested_log", "i", "schedule plateau --plateau-losses NESTED",
          ["schedule", "plateau", "--lr", "0.1", "--steps", "10", "--plateau-losses",
           "{T}/nested.json", "--no-plot"], 2, setup=generated("nested.json", nested_json)),
    Fault("i_diagnose_all_zero", "i", "diagnose an all-zero loss log",
          ["diagnose", F_ + "logs/zeros.csv", "--no-plot"], (0, 2), stdout="any"),
    Fault("i_diagnose_negative", "i", "diagnose negative losses (a log-likelihood)",
          ["diagnose", F_ + "logs/negative.csv", "--no-plot"], (0, 2), stdout="any"),
    Fault("i_diagnose_window_longer_than_log", "i", "diagnose --window 0.5 on 7 points",
          ["diagnose", F_ + "logs/seven.csv", "--window", "0.5", "--no-plot"], (0, 2),
          stdout="any"),
    Fault("i_diagnose_nested", "i", "diagnose a 100,000-deep nested JSON log",
          ["diagnose", "{T}/nested.json", "--no-plot"], 2,
          setup=generated("nested.json", nested_json)),
    Fault("i_diagnose_nul_byte", "i", "diagnose a CSV with a NUL byte",
          ["diagnose", F_ + "logs/nul.csv", "--no-plot"], 2),
    Fault("i_diagnose_huge_field", "i", "diagnose a CSV with a 200,000-character cell",
          ["diagnose", "{T}/big.csv", "--no-plot"], 2,
          setup=generated("big.csv", big_field_csv)),
    Fault("i_diagnose_dev_zero", "i", "diagnose /dev/zero (2 GiB address space)",
          ["diagnose", "/dev/zero", "--no-plot"], 2, limits=ASLIMIT, timeout=60),
    Fault("i_diagnose_out_dir_is_file", "i", "diagnose --out-dir FILE",
          ["diagnose", F_ + "logs/good.csv", "--out-dir", "{T}/file.txt"], 2,
          setup=files({"file.txt": "x"})),
    Fault("i_diagnose_out_empty", "i", "diagnose --out-dir '' (an empty path is the cwd)",
          ["diagnose", F_ + "logs/good.csv", "--out-dir", ""], (0, 2), stdout="any"),
    Fault("i_diagnose_out_read_only", "i", "diagnose --out-dir READ-ONLY",
          ["diagnose", F_ + "logs/good.csv", "--out-dir", "{T}/ro"], 2,
          setup=read_only_dir("ro")),
    # (x) environment and config.
    Fault("x_rank_exported", "x", "RANK=1 left in the environment (no torchrun), bad SPEC",
          ["run", F_ + "faultkit.py:biuld", *RUN20], 2, env={"RANK": "1"},
          says=(r"no function 'biuld'",)),
    Fault("x_mplbackend_invalid", "x", "MPLBACKEND=nonsense, with the plot",
          ["run", F_ + "faultkit.py:build", "--steps", "20", "--out-dir", "{T}/out"], (0, 1),
          env={"MPLBACKEND": "nonsense"}, checks=(shows_suggestion,)),
    Fault("x_ascii_stdout", "x", "PYTHONIOENCODING=ascii (a CI runner without UTF-8): show",
          ["show", G, "--no-plot"], 0, env={"PYTHONIOENCODING": "ascii"}),
    Fault("x_arg_nested_literal", "x", "--arg x=[[[[...]]]] 20,000 deep",
          ["run", F_ + "faultkit.py:build", "--arg", "x=" + "[" * 20_000 + "]" * 20_000,
           *RUN20], 2),
    Fault("x_config_nested", "x", "a config with a 50,000-deep array",
          ["run", F_ + "faultkit.py:build", "-c", "{T}/nested.toml", "--out-dir", "{T}/out"], 2,
          setup=generated("nested.toml", nested_toml)),
]
# fmt: on


# --- running a probe ----------------------------------------------------------------

_SCRUB = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "MPLBACKEND",
    "PYTHONWARNINGS",
    "PYTHONSTARTUP",
    "LRFIND_TEST_MARKER",
)
_MPLCONFIG = Path(tempfile.gettempdir()) / "lrfind-fault-mplconfig"  # shared: no font-cache note


def _env(ctx: Ctx, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        HOME=str(ctx.home),
        PYTHONPATH=str(ctx.root),
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ in the corpus
        OMP_NUM_THREADS="1",  # 2 shared cores: one thread per process
        MKL_NUM_THREADS="1",
        MPLCONFIGDIR=str(_MPLCONFIG),
    )
    for key, value in extra.items():
        if key == "PYTHONPATH+":
            env["PYTHONPATH"] = ctx.fill(value) + os.pathsep + env["PYTHONPATH"]
        else:
            env[key] = ctx.fill(value)
    return env


def _command(f: Fault, ctx: Ctx) -> list[str]:
    argv = [ctx.fill(a) for a in f.argv]
    if f.launcher == "torchrun":
        launch = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        return [sys.executable, *launch, "-m", "lrfind", *argv]
    return [sys.executable, "-m", "lrfind", *argv]


def _limits(limits: dict[int, int]) -> Callable[[], None] | None:
    if not limits:
        return None

    def apply() -> None:
        for which, value in limits.items():
            resource.setrlimit(which, (value, value))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG

    return apply


def probe(f: Fault, root: Path, keep: bool = False) -> tuple[Outcome | None, list[str], str]:
    """Run one fault; return its outcome, the contract problems and a skip reason."""
    ctx = Ctx(Path(tempfile.mkdtemp(prefix=f"lrfind-fault-{f.name}-")), root)
    ctx.home.mkdir()
    try:
        if f.setup is not None:
            f.setup(ctx)
        outcome = _execute(f, ctx)
        return outcome, judge(f, outcome, ctx), ""
    except Skip as e:
        return None, [], str(e)
    except Exception as e:  # a harness problem: say so in the table, run the others
        return None, [], f"the probe's setup failed ({type(e).__name__}: {e})"
    finally:
        for undo in reversed(ctx.cleanups):
            with contextlib.suppress(Exception):
                undo()
        if not keep:
            shutil.rmtree(ctx.tmp, ignore_errors=True)


def _execute(f: Fault, ctx: Ctx) -> Outcome:
    sink = open("/dev/full", "w") if f.stdout_to == "devfull" else subprocess.PIPE  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(
        _command(f, ctx),
        cwd=ctx.tmp,
        env=_env(ctx, f.env),
        stdin=subprocess.DEVNULL,
        stdout=sink,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: Ctrl-C goes to it as in a terminal
        preexec_fn=_limits(f.limits),  # only where a probe sets limits
    )
    _LIVE.add(proc.pid)
    if sink is not subprocess.PIPE:
        sink.close()
    if f.stdout_to == "broken":  # the reader (`| head -1`) has gone before lrfind writes
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stdout = None
    failure: list[BaseException] = []
    if f.drive is not None:
        import threading

        def drive() -> None:
            try:
                f.drive(proc, ctx)  # type: ignore[misc]
            except BaseException as e:  # a Skip, reported below
                failure.append(e)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
    try:
        stdout, stderr = proc.communicate(timeout=f.timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        code = None
    with contextlib.suppress(ProcessLookupError):  # DataLoader workers, torchrun ranks
        os.killpg(proc.pid, signal.SIGKILL)
    _LIVE.discard(proc.pid)
    if failure and isinstance(failure[0], Skip):
        raise failure[0]
    wall = time.monotonic() - started
    return Outcome(code, _normal(stdout or "", ctx), _normal(stderr or "", ctx), wall, ctx.tmp)


def _normal(text: str, ctx: Ctx) -> str:
    """Paths as the table writes them ($T, faults/), so that `says` never matches a path."""
    text = text.replace(str(ctx.home), "$T/home").replace(str(ctx.tmp), "$T")
    return text.replace(str(FAULTS) + "/", "faults/")


# --- judging ------------------------------------------------------------------------

_PY_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")
_GLOG = re.compile(r"^[WEIF]\d{4} \d\d:\d\d:\d\d")
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")


def _launcher_block(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split torchrun's own lines (glog lines, its ChildFailedError report) from the ranks'."""
    ours, launcher = [], []
    in_block = False
    for i, line in enumerate(lines):
        if line.startswith("Traceback") and any(
            "torch/distributed/run.py" in x for x in lines[i : i + 6]
        ):
            in_block = True
        if in_block or _GLOG.match(line):
            launcher.append(line)
        else:
            ours.append(_RANK_PREFIX.sub("", line))
    return ours, launcher


def stderr_lines(f: Fault, stderr: str) -> list[str]:
    """stderr as lrfind's lines (the user's output and torchrun's own dropped)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if f.launcher == "torchrun":
        lines = _launcher_block(lines)[0]
    return [line for line in lines if USER_MARK not in line]


def message_lines(lines: list[str]) -> list[str]:
    """lrfind's own message: stderr lines less warnings, 'Wrote ...' and library warnings."""
    out, skip_source = [], False
    for line in lines:
        if skip_source and line.startswith((" ", "\t")):
            skip_source = False
            continue
        skip_source = False
        if _PY_WARNING.match(line):
            skip_source = True  # Python's warnings print the source line next, indented
            continue
        if line.startswith(("Warning:", "Wrote ")):
            continue
        out.append(line)
    return out


def _stdout_kind(f: Fault) -> str:
    if f.stdout:
        return f.stdout
    if "--json" in f.argv:
        return "json"
    return "number" if {"-q", "--quiet"} & set(f.argv) else "text"


def judge(f: Fault, o: Outcome, ctx: Ctx) -> list[str]:
    """Every way the outcome breaks the contract (empty: it meets it)."""
    if o.code is None:
        return [f"hung: killed after {f.timeout:.0f} s"]
    problems: list[str] = []
    if o.code < 0:
        problems.append(f"killed by {signal.Signals(-o.code).name} (no handler)")
    elif o.code not in f.codes:
        problems.append(f"exit {o.code}, expected {'/'.join(map(str, f.codes))}")
    lines = stderr_lines(f, o.stderr)
    text = "\n".join(lines) + "\n" + o.stdout
    traced = "--debug" not in f.argv and "Traceback" in text
    if traced:
        problems.append(f"traceback ({len(lines)} stderr lines)")
    if "Exception ignored" in text:
        problems.append("'Exception ignored' from Python at exit")
    message = message_lines(lines)
    if o.code != 0 and not traced and not (f.silent_ok and not message):
        # (a traceback says it all: no more about its shape)
        problems += _message_problems(o.code, message, lines)
    long = max((len(line) for line in message), default=0)
    if long > MAX_LINE:
        problems.append(f"a {long}-character line")
    problems += _stdout_problems(_stdout_kind(f), o)
    problems += _report_problems(f.report, ctx)
    for pattern in f.says:
        if not re.search(pattern, "\n".join(lines), re.M | re.I):
            problems.append(f"message lacks /{pattern}/")
    for check in f.checks:
        reason = check(o, ctx)
        if reason:
            problems.append(reason)
    return list(dict.fromkeys(problems))


def _message_problems(code: int, message: list[str], lines: list[str]) -> list[str]:
    if code in (129, 130, 143):  # interrupted: "Error:"/"Interrupted", or a warning says so
        said = any(re.search(r"interrupt|terminat|signal|hang", x, re.I) for x in lines)
        if not said:
            return ["nothing on stderr says it was interrupted"]
        return [f"{len(message)} message lines"] if len(message) > 2 else []
    if not message:
        return ["exits nonzero with no message"]
    problems = []
    if len(message) > 2:
        problems.append(f"{len(message)} message lines")
    if not message[0].startswith("Error:"):
        problems.append("the message does not start with 'Error:'")
    return problems


def _stdout_problems(kind: str, o: Outcome) -> list[str]:
    out = o.stdout
    problems = []
    if USER_MARK in out:
        problems.append("the user's prints are on stdout")
    if kind == "json":
        if o.code == 0 or out.strip():
            try:
                if not isinstance(json.loads(out), dict):
                    problems.append("stdout is JSON but not the report")
            except ValueError:
                first = next((x for x in out.splitlines() if x.strip()), "")
                problems.append(
                    f"stdout is not JSON (starts {first[:40]!r})" if first else "stdout is empty"
                )
        if o.code == 2 and out.strip():
            problems.append("stdout not empty on a usage error")
    elif kind == "number":
        if o.code == 0:
            parts = out.split()
            try:
                ok = len(parts) == 1 and math.isfinite(float(parts[0]))
            except ValueError:
                ok = False
            if not ok:
                problems.append(f"-q stdout is not one number ({len(out.splitlines())} lines)")
        elif out.strip():
            problems.append("-q stdout not empty on an error")
    elif kind == "text" and o.code == 2 and out.strip():
        problems.append("stdout not empty on a usage error")
    return problems


def _report_problems(want: str | None, ctx: Ctx) -> list[str]:
    path = ctx.out / "report.json"
    if want == "kept":
        if not path.is_file():
            return ["no report.json in $T/out"]
        try:
            json.loads(path.read_text())
        except ValueError:
            return ["report.json is not whole JSON"]
    elif want == "none" and path.exists():
        return ["a report.json was written"]
    return []


# --- the table ----------------------------------------------------------------------


def display_command(f: Fault) -> str:
    def show(arg: str) -> str:
        arg = arg.replace("{F}/", "faults/").replace("{T}", "$T").replace("{H}", "$T/home")
        arg = arg.replace("{A}/", "tests/assets/")
        if len(arg) > 40:
            arg = arg[:24] + "..." + arg[-8:]
        return arg if re.fullmatch(r"[\w@%+=:,./$-]+", arg) else "'" + arg + "'"

    env = " ".join(f"{k}={show(v)}" for k, v in f.env.items() if not k.startswith("LRFIND_FAULT"))
    env = env.replace("PYTHONPATH+=", "PYTHONPATH=")
    launcher = "lrfind"
    if f.launcher == "torchrun":
        launcher = "torchrun --standalone --nproc_per_node=2 -m lrfind"
    cmd = " ".join(x for x in (env, launcher, *map(show, f.argv)) if x)
    if f.stdout_to == "devfull":
        cmd += " > /dev/full"
    elif f.stdout_to == "broken":
        cmd += " | (closed)"
    if f.limits:
        cmd = f"(ulimit {' '.join(_ulimit(k, v) for k, v in f.limits.items())}; {cmd})"
    return cmd


def _ulimit(which: int, value: int) -> str:
    if which == resource.RLIMIT_FSIZE:
        return f"-f {value // 1024}"
    return f"-v {value // 1024}"


_WIDE = {"on": False}  # --wide: every message line, unclipped


def message_cell(f: Fault, o: Outcome | None, skip: str) -> str:
    if o is None:
        return skip
    lines = stderr_lines(f, o.stderr)
    shown = message_lines(lines) or lines
    if _WIDE["on"] and shown and not any(x.startswith("Traceback") for x in shown):
        return " / ".join(shown if message_lines(lines) else shown[:2])
    if not shown:
        return "(stderr empty)"
    if any(x.startswith("Traceback") for x in shown):  # its last line is the one that tells
        errors = [x for x in shown if x.startswith("Error:")]
        last = [x for x in shown if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", x)]
        tail = (errors or [""])[:1] + (last or shown)[-1:]
        return f"Traceback ({len(lines)} lines) ... " + " / ".join(_clip(x, 160) for x in tail if x)
    cell = " / ".join(_clip(x, 160) for x in shown[:2])
    rest = len(lines) - min(2, len(shown))
    if rest > 0:
        cell += f" (+{rest} more lines)"
    return cell


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def exit_cell(o: Outcome | None) -> str:
    if o is None:
        return "-"
    if o.code is None:
        return "timeout"
    return f"{o.code} ({signal.Signals(-o.code).name})" if o.code < 0 else str(o.code)


def table(
    rows: list[tuple[Fault, Outcome | None, list[str], str]], wall_s: float, cpu_s: float
) -> str:
    ran = [r for r in rows if r[1] is not None]
    meets = [r for r in ran if not r[2]]
    out = [
        f"{len(rows)} faults, {len(ran)} run, {len(meets)} meet the contract, "
        f"{len(ran) - len(meets)} fail, {len(rows) - len(ran)} skipped "
        f"({wall_s:.0f} s wall, {cpu_s:.0f} s CPU in the probes; "
        f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}).",
        "",
        "| class | faults | meet | fail |",
        "| --- | --- | --- | --- |",
    ]
    for cls, title in CLASSES.items():
        mine = [r for r in ran if r[0].cls == cls]
        if mine:
            ok = sum(1 for r in mine if not r[2])
            out.append(f"| {cls}: {title} | {len(mine)} | {ok} | {len(mine) - ok} |")
    out += [
        "",
        "| fault | command | exit | message (first lines of stderr) | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f, o, problems, skip in rows:
        verdict = (
            f"skipped: {skip}"
            if o is None
            else ("meets" if not problems else "fails: " + "; ".join(problems))
        )
        wall = "" if o is None else f" ({o.wall_s:.0f} s)"
        out.append(
            f"| {f.cls} `{f.name}`: {_md(f.what)} | `{_md(display_command(f))}` | "
            f"{exit_cell(o)}{wall} | {_md(message_cell(f, o, skip))} | {_md(verdict)} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only faults whose name matches (fnmatch; repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument(
        "--wide",
        action="store_true",
        help="the table's message cells: every line of lrfind's, unclipped",
    )
    parser.add_argument(
        "--raw", metavar="FILE", help="also write each probe's exit code, stdout and stderr as JSON"
    )
    parser.add_argument("--root", default=str(REPO), help="the lrfind checkout to probe")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="probes at once (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep each probe's $T")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="print each probe's stdout and stderr"
    )
    args = parser.parse_args(argv)
    _WIDE["on"] = args.wide
    names = [f.name for f in FAULT_LIST]
    assert len(names) == len(set(names)), "fault names must be unique"
    chosen = [
        f for f in FAULT_LIST if not args.only or any(fnmatch.fnmatch(f.name, p) for p in args.only)
    ]
    if args.list:
        for f in chosen:
            print(f"{f.name:40} {f.cls}  {display_command(f)}")
        return 0
    if not chosen:
        parser.error(f"no fault matches {args.only}")
    _MPLCONFIG.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):
        os.nice(10)  # the shared cores come first
    root = Path(args.root).resolve()
    started = time.monotonic()

    def one(f: Fault) -> tuple[Fault, Outcome | None, list[str], str]:
        o, problems, skip = probe(f, root, args.keep)
        status = "skipped" if o is None else ("meets" if not problems else "FAILS")
        wall = "" if o is None else f", {o.wall_s:.0f} s"
        print(f"{status:8} {f.name} ({exit_cell(o)}{wall})", file=sys.stderr, flush=True)
        if args.verbose and o is not None:
            print(
                textwrap.indent(
                    f"$ {display_command(f)}\n--- stdout\n{o.stdout[:3000]}"
                    f"\n--- stderr\n{o.stderr[-3000:]}\n--- {problems}",
                    "    ",
                ),
                file=sys.stderr,
                flush=True,
            )
        return f, o, problems, skip

    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        rows = list(pool.map(one, chosen))
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        for pgid in list(_LIVE):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        raise
    finally:
        for report in _RUN_CACHE.values():
            shutil.rmtree(report.parent, ignore_errors=True)
    pool.shutdown()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = table(rows, time.monotonic() - started, cpu.ru_utime + cpu.ru_stime)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.raw:
        raw = [{"name": f.name, "command": display_command(f), "skipped": skip or None,
                "code": None if o is None else o.code, "problems": problems,
                "stdout": None if o is None else o.stdout[:4000],
                "stderr": None if o is None else o.stderr[-8000:]}
               for f, o, problems, skip in rows]  # fmt: skip
        Path(args.raw).write_text(json.dumps(raw, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `--list | head`: the reader has gone, as it may
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
