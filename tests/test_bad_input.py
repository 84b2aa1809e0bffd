"""Every way a user can get it wrong, through the real CLI: exit code, one clear message.

Each row: the arguments (``{A}`` is tests/assets, ``{T}`` a fresh temporary
folder), files to create in {T} first, the expected exit code, and text the
message must contain. Every message is one or two lines on stderr, starts with
"Error: " and carries no traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

from .conftest import ASSETS

TINY, BAD = "{A}/tiny.py", "{A}/bad.py"

CASES: list[tuple[str, list[str], dict[str, str], int, list[str]]] = [
    # --- SPEC ---
    ("spec without colon", [TINY], {}, 2, ["needs a function", "file.py:build"]),
    ("spec file missing", ["{T}/nope.py:build"], {}, 2, ["nope.py does not exist"]),
    ("spec is a directory", ["{A}:build"], {}, 2, ["is a directory"]),
    (
        "syntax error",
        ["{T}/broken.py:build"],
        {"broken.py": "def build(:\n    pass\n"},
        2,
        ["broken.py, line 1: syntax error"],
    ),
    (
        "import error inside",
        ["{T}/needs.py:build"],
        {"needs.py": "import not_installed_pkg\n"},
        2,
        ["ModuleNotFoundError", "not_installed_pkg", "line 1"],
    ),
    ("missing function", [TINY + ":biuld"], {}, 2, ["no function 'biuld'", "build, build_dict"]),
    ("build raises", [TINY + ":raises"], {}, 2, ["raised RuntimeError: dataset folder missing"]),
    (
        "build needs an argument",
        [TINY + ":needs_arg"],
        {},
        2,
        ["missing a required argument: 'size'", "--arg"],
    ),
    (
        "build gets an unknown --arg",
        [TINY + ":build", "--arg", "widht=3"],
        {},
        2,
        ["unexpected keyword argument 'widht'", "batch_size, hidden"],
    ),
    ("build returns None", [TINY + ":returns_none"], {}, 2, ["returned None"]),
    ("build returns a bare model", [TINY + ":returns_model"], {}, 2, ["returned only a model"]),
    ("build returns a 5-tuple", [TINY + ":returns_five"], {}, 2, ["returned a 5-tuple"]),
    (
        "build returns wrong types",
        [TINY + ":returns_wrong_types"],
        {},
        2,
        ["a str as the model", "an int as train_loader"],
    ),
    (
        "module not found",
        ["no_such_pkg_xyz.models:build"],
        {},
        2,
        ["no module named 'no_such_pkg_xyz'"],
    ),
    # --- model and data ---
    ("no trainable parameters", [BAD + ":frozen"], {}, 2, ["no trainable parameters"]),
    ("empty loader", [BAD + ":empty_loader"], {}, 2, ["step 1/100", "yielded no batches"]),
    ("loader yields strings", [BAD + ":strings_loader"], {}, 2, ["a batch is a str", "step_fn"]),
    ("loader yields None", [BAD + ":none_loader"], {}, 2, ["a batch is None: a collate_fn"]),
    (
        "batch does not fit model",
        [BAD + ":shape_mismatch"],
        {},
        1,
        ["step 1/100", "mat1 and mat2 shapes cannot be multiplied"],
    ),
    (
        "integer-only dataset",
        [BAD + ":integer_data"],
        {},
        1,
        ["step 1/100", "Long", "integer tensors", "float"],
    ),
    (
        "float64 data, float32 model",
        [BAD + ":float64_data"],
        {},
        1,
        ["step 1/100", "the batch is float64, the model float32", "torch.from_numpy"],
    ),
    (
        "bfloat16 model, float32 data",
        [BAD + ":bfloat16_model"],
        {},
        1,
        ["step 1/100", "the model is bfloat16, the batch float32", "--amp bf16"],
    ),
    (
        "(N,) regression targets for a (N, 1) output",
        [BAD + ":flat_regression_targets"],
        {},
        2,
        ["broadcast the target", "the target is (16,), the output (16, 1)", "y.unsqueeze(1)"],
    ),
    (
        "(N,) BCE targets for a (N, 1) output",
        [BAD + ":flat_binary_targets"],
        {},
        1,
        ["the target is (16,), the output (16, 1)", "y.float().unsqueeze(1)"],
    ),
    (
        "class ids from 1",
        [BAD + ":class_ids_from_one"],
        {},
        1,
        ["out of bounds; a class id", "ids from 1: subtract 1"],
    ),
    (
        "BCELoss on logits",
        [BAD + ":probabilities_loss_on_logits"],
        {},
        1,
        ["BCELoss takes probabilities", "BCEWithLogitsLoss"],
    ),
    (
        "int32 class ids",
        [BAD + ":int32_class_ids"],
        {},
        1,
        ["got Int; cross-entropy takes class indices as int64", "y.long()"],
    ),
    ("(N, 1) class ids", [BAD + ":column_class_ids"], {}, 1, ["shape (N,): y.squeeze(1)"]),
    (
        "(N, T, C) scores for (N, T) ids",
        [BAD + ":sequence_class_ids"],
        {},
        1,
        ["class scores in dim 1", "loss_fn(out.flatten(0, 1), y.flatten())"],
    ),
    ("numpy batches", [BAD + ":numpy_batches"], {}, 1, ["numpy arrays", "torch.from_numpy"]),
    ("untokenized text", [BAD + ":text_batches"], {}, 1, ["strings (text not tokenized)"]),
    (
        "((x1, x2), y) for forward(x1, x2)",
        [BAD + ":two_input_pairs"],
        {},
        2,
        ["inputs is a list of 2", "model(*batch[0])"],
    ),
    (
        "val_loader's last batch of one, with BatchNorm",
        [BAD + ":val_batch_of_one"],
        {},
        1,
        ["in the validation pass", "the val_loader's last batch holds 1 sample (17 samples"],
    ),
    ("loss not a scalar", [BAD + ":loss_not_scalar"], {}, 2, ["loss has shape [16, 1]", "reduce"]),
    ("loss without grad", [BAD + ":loss_without_grad"], {}, 2, ["does not require grad"]),
    ("loss not a tensor", [BAD + ":loss_not_tensor"], {}, 2, ["the loss is a float, not a tensor"]),
    (
        "NaN loss from step 1",
        [BAD + ":nan_from_start"],
        {},
        1,
        ["no learning rate can be suggested", "no finite loss"],
    ),
    (
        "model raises mid-sweep",
        [BAD + ":raises_mid_sweep"],
        {},
        1,
        ["step 5/100", "RuntimeError: CUDA-like failure", "bad.py, line", "partial report"],
    ),
    (
        "dataset raises",
        [BAD + ":loader_raises"],
        {},
        1,
        ["step 1/100", "FileNotFoundError: image_"],
    ),
    ("tuple batches, no loss_fn", [BAD + ":tuples_without_loss_fn"], {}, 2, ["no loss_fn"]),
    (
        "dict batches without labels",
        [BAD + ":dicts_without_labels"],
        {},
        2,
        ["need a 'labels' entry", "features"],
    ),
    ("model output has no loss", [BAD + ":output_without_loss"], {}, 2, ["with no loss"]),
    ("optimizer not callable", [BAD + ":optimizer_not_callable"], {}, 2, ["a str as optimizer"]),
    (
        "optimizer factory raises",
        [BAD + ":optimizer_factory_raises"],
        {},
        2,
        ["optimizer factory raised ValueError", "Invalid learning rate"],
    ),
    ("optimizer of another model", [BAD + ":foreign_optimizer"], {}, 2, ["not the model's"]),
    # --- options ---
    (
        "start >= end",
        [TINY + ":build", "--start-lr", "1", "--end-lr", "1"],
        {},
        2,
        ["--end-lr 1.0: must be greater than start_lr"],
    ),
    (
        "start <= 0",
        [TINY + ":build", "--start-lr", "0"],
        {},
        2,
        ["--start-lr 0.0: must be a finite"],
    ),
    ("negative start", [TINY + ":build", "--start-lr", "-1e-3"], {}, 2, ["--start-lr -0.001"]),
    (
        "steps < 6",
        [TINY + ":build", "--steps", "1"],
        {},
        2,
        ["--steps 1: too few for a suggestion: use at least 6"],
    ),
    ("absurd steps", [TINY + ":build", "--steps", "100000000"], {}, 2, ["--steps 100000000"]),
    (
        "smoothing = 1",
        [TINY + ":build", "--smoothing", "1"],
        {},
        2,
        ["--smoothing 1.0: must be in [0, 1)"],
    ),
    ("smoothing < 0", [TINY + ":build", "--smoothing", "-0.5"], {}, 2, ["--smoothing -0.5"]),
    (
        "threshold <= 1",
        [TINY + ":build", "--diverge-threshold", "1"],
        {},
        2,
        ["--diverge-threshold 1.0: must be a finite number > 1"],
    ),
    ("unknown device", [TINY + ":build", "--device", "tpu"], {}, 2, ["--device 'tpu'"]),
    ("cuda:N out of range", [TINY + ":build", "--device", "cuda:99"], {}, 2, ["--device cuda:99"]),
    ("mps where absent", [TINY + ":build", "--device", "mps"], {}, 2, ["MPS is not available"]),
    (
        "unknown optimizer",
        [TINY + ":build", "--optimizer", "lion"],
        {},
        2,
        ["--optimizer 'lion': unknown optimizer", "adamw"],
    ),
    (
        "malformed --arg",
        [TINY + ":build", "--arg", "batch_size"],
        {},
        2,
        ["--arg 'batch_size' is malformed"],
    ),
    ("--arg without key", [TINY + ":build", "--arg", "=3"], {}, 2, ["--arg '=3' is malformed"]),
    ("bad mode", [TINY + ":build", "--mode", "cosine"], {}, 2, ["'--mode'", "exp"]),
    ("not a number", [TINY + ":build", "--steps", "many"], {}, 2, ["'--steps'", "integer"]),
    ("misspelt option", [TINY + ":build", "--stpes", "10"], {}, 2, ["--stpes", "--steps"]),
    ("no SPEC at all", [], {}, 2, ["no SPEC given"]),
    # --- config ---
    (
        "config missing",
        [TINY + ":build", "-c", "{T}/none.toml"],
        {},
        2,
        ["none.toml does not exist"],
    ),
    ("config is a directory", [TINY + ":build", "-c", "{T}"], {}, 2, ["is a directory"]),
    (
        "invalid TOML",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": "[sweep]\nsteps = \n"},
        2,
        ["c.toml is not valid TOML", "line 2"],
    ),
    (
        "unknown config key",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": "[sweep]\nsteps_ = 5\n"},
        2,
        ["c.toml: unknown key 'steps_' (did you mean steps?) in [sweep]"],
    ),
    (
        "wrong config type",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": '[sweep]\nsteps = "5"\n'},
        2,
        ["c.toml: [sweep] steps = '5' has the wrong type: expected int"],
    ),
    (
        "config value out of range",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": "[sweep]\nend_lr = -1.0\n"},
        2,
        ["c.toml: [sweep] end_lr = -1.0: must be a finite"],
    ),
    (
        "config optimizer sets lr",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": '[optimizer]\nname = "adam"\nlr = 0.1\n'},
        2,
        ["c.toml: [optimizer]: must not set lr"],
    ),
    (
        "config optimizer bad kwarg",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": '[optimizer]\nname = "adam"\nmomentum = 0.9\n'},
        2,
        ["optimizer adam rejects", "momentum", "[optimizer]"],
    ),
    (
        "config NUL in out_dir",
        [TINY + ":build", "-c", "{T}/c.toml"],
        {"c.toml": '[output]\nout_dir = "a\\u0000b"\n'},
        2,
        ["is not a valid path"],
    ),
    # --- output ---
    (
        "--out-dir is a file",
        [TINY + ":build", "--out-dir", "{T}/file.txt"],
        {"file.txt": "x"},
        2,
        ["--out-dir", "file.txt is an existing file"],
    ),
    (
        "--out-dir cannot be made",
        [TINY + ":build", "--out-dir", "{T}/file.txt/sub"],
        {"file.txt": "x"},
        2,
        ["--out-dir", "cannot be created"],
    ),
    (
        "--out-dir name too long",
        [TINY + ":build", "--out-dir", "{T}/" + "x" * 300],
        {},
        2,
        ["--out-dir", "cannot be created (File name too long)"],
    ),
    (
        "--out-dir nested too deeply",
        [TINY + ":build", "--out-dir", "{T}/" + "/".join(["d"] * 1500)],
        {},
        2,
        ["--out-dir: its path is nested too deeply to create"],
    ),
]


def _fill(arg: str, tmp: Path) -> str:
    return arg.replace("{A}", str(ASSETS)).replace("{T}", str(tmp))


@pytest.mark.parametrize(
    ("args", "files", "code", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(
    args: list[str], files: dict[str, str], code: int, needles: list[str], tmp_path: Path
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = ["run", *(_fill(a, tmp_path) for a in args)]
    if "--out-dir" not in argv and not any("out_dir" in t for t in files.values()):
        argv += ["--out-dir", str(tmp_path / "out")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert "Traceback" not in result.output
    if code != 1:
        assert result.stdout == ""


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_out_dir_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    result = CliRunner().invoke(app, ["run", f"{ASSETS}/tiny.py:build", "--out-dir", str(locked)])
    assert result.exit_code == 2 and "is not writable" in result.stderr


def test_out_dir_on_a_read_only_filesystem(tmp_path: Path) -> None:
    # /proc refuses new folders even to root.
    result = CliRunner().invoke(
        app, ["run", f"{ASSETS}/tiny.py:build", "--out-dir", "/proc/lrfind"]
    )
    assert result.exit_code == 2 and "--out-dir /proc/lrfind cannot be created" in result.stderr


@pytest.mark.parametrize("name", ["negative_loss", "loss_reaching_zero"])
def test_non_positive_losses_sweep_and_stop_on_a_real_blow_up(name: str, tmp_path: Path) -> None:
    # The hinge's batch losses swing from 0.2 to 50 at LRs too small to matter:
    # it needs smoothing (see the next test for what happens without).
    args = ["run", f"{ASSETS}/bad.py:{name}", "--json", "--no-plot", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--smoothing", "0.05"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps_run"] > 20  # never stopped at once
    assert report["stop_reason"] == "diverged"
    losses = [v for v in report["history"]["loss"] if v is not None]
    assert min(losses) < 0 if name == "negative_loss" else min(losses) == 0.0


def test_an_early_stop_on_a_noisy_loss_says_to_smooth_it(tmp_path: Path) -> None:
    # A loss driven to exactly 0: lrfind 0.1's ratio rule (--diverge-threshold) stops while
    # it is still falling, the robust default does not (issue 13).
    args = ["run", f"{ASSETS}/bad.py:loss_reaching_zero", "--json", "--no-plot"]
    old = CliRunner().invoke(app, [*args, "--diverge-threshold", "4", "--out-dir", str(tmp_path)])
    report = json.loads(old.stdout)
    assert report["stop_reason"] == "diverged" and report["steps_run"] < 25
    assert any("smooth it (--smoothing 0.05)" in w for w in report["warnings"])
    assert report["rule"]["stop"] == {"name": "ratio", "diverge_threshold": 4.0}
    new = json.loads(CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path)]).stdout)
    assert new["steps_run"] > 80 and not any("only" in w for w in new["warnings"])


def test_a_failed_run_replaces_the_report_whole(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"from": "an earlier run"}')
    result = CliRunner().invoke(
        app, ["run", f"{ASSETS}/bad.py:raises_mid_sweep", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stop_reason"] == "error" and report["steps_run"] == 4
    assert "step 5/100" in report["error"] and report["suggested_lr"] is None
    assert report["no_suggestion_reasons"]["min_div_10"] == "the sweep failed at step 5"
    assert (tmp_path / "lr_finder.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr_finder.png", "report.json"]


def test_bad_input_before_the_sweep_leaves_the_old_report(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"from": "an earlier run"}')
    result = CliRunner().invoke(app, ["run", f"{ASSETS}/tiny.py:nope", "--out-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert json.loads((tmp_path / "report.json").read_text()) == {"from": "an earlier run"}
