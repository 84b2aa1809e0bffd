"""SPEC loading and every return form of build()."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from lrfind.errors import SpecError
from lrfind.spec import call_build, load_function, parse_spec
from lrfind.sweep.task import Task, task_from_build

from .conftest import TINY


def _task(name: str, **kwargs: object) -> Task:
    func, label = load_function(f"{TINY}:{name}")
    return task_from_build(call_build(func, label, kwargs), label)


def test_parse_spec() -> None:
    assert parse_spec("a/b.py:build") == ("a/b.py", "build")
    assert parse_spec("pkg.mod:make") == ("pkg.mod", "make")
    assert parse_spec("C:\\x\\m.py:build") == ("C:\\x\\m.py", "build")


@pytest.mark.parametrize(
    "bad", ["model.py", "model.py:", ":build", "m.py:not-a-name", "base.py:build:extra"]
)
def test_bad_spec_syntax(bad: str) -> None:
    with pytest.raises(SpecError, match="SPEC"):
        parse_spec(bad)


def test_two_colons_are_named_as_such() -> None:
    with pytest.raises(SpecError, match="has more than one ':'"):
        parse_spec("base.py:build:extra")


@pytest.mark.parametrize(
    ("name", "loss", "optimizer", "val", "step"),
    [
        ("build", True, False, False, False),
        ("build_dict", True, True, False, False),
        ("build_task", True, False, False, False),
        ("build_hf", False, False, False, False),
        ("build_groups", True, True, False, False),
        ("build_step_fn", False, False, False, True),
        ("build_val", True, False, True, False),
    ],
)
def test_every_return_form(name: str, loss: bool, optimizer: bool, val: bool, step: bool) -> None:
    task = _task(name)
    assert isinstance(task.model, torch.nn.Module)
    assert (task.loss_fn is not None) == loss
    assert (task.optimizer is not None) == optimizer
    assert (task.val_loader is not None) == val
    assert (task.step_fn is not None) == step


def test_build_kwargs_are_passed() -> None:
    task = _task("build", hidden=3)
    assert task.model[0].out_features == 3


def test_module_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TINY.parent))
    func, label = load_function("tiny:build")
    assert func.__name__ == "build" and "tiny" in label


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("returns_none", "returned None"),
        ("returns_model", "returned only a model"),
        ("returns_four", "a str as optimizer"),  # a 4th item is the optimizer
        ("returns_wrong_types", "str as the model"),
    ],
)
def test_bad_return_values(name: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as e:
        _task(name)
    assert f"{name}() in" in str(e.value)


def test_dict_with_unknown_key() -> None:
    model = torch.nn.Linear(2, 1)
    with pytest.raises(SpecError, match="unknown key.*loader.*allowed keys"):
        task_from_build({"model": model, "loader": []}, "build()")
    # A scheduler, as timm and plain training loops return one: why there is no such key.
    with pytest.raises(SpecError, match="unknown key.*scheduler.*sets the LR itself") as e:
        task_from_build({"model": model, "train_loader": [], "scheduler": None}, "build()")
    assert "lrfind schedule" in str(e.value)


def test_missing_function_lists_what_the_file_has() -> None:
    with pytest.raises(SpecError, match="has no function 'nope'.*build_dict") as e:
        load_function(f"{TINY}:nope")
    assert "Output" in str(e.value)  # classes count as callables
    assert "_data" not in str(e.value)  # private helpers do not
    # A module's own dunders are no build function (it said "module() missing 'name'").
    with pytest.raises(SpecError, match="has no function '__init__'"):
        load_function(f"{TINY}:__init__")


def test_build_raises() -> None:
    with pytest.raises(
        SpecError, match=r"raises\(\) in .* raised RuntimeError: dataset folder missing"
    ):
        _task("raises")


def test_build_needs_an_argument() -> None:
    with pytest.raises(SpecError, match="missing a required argument: 'size'.*--arg"):
        _task("needs_arg")


def test_build_unexpected_argument() -> None:
    with pytest.raises(SpecError, match="unexpected keyword argument 'width'.*batch_size, hidden"):
        _task("build", width=3)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_function(f"{tmp_path}/nope.py:build")
    with pytest.raises(SpecError, match="is a directory"):
        load_function(f"{tmp_path}/:build")


def test_syntax_error_shows_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import torch\n\ndef build(:\n    pass\n")
    with pytest.raises(SpecError, match=r"broken\.py, line 3: syntax error"):
        load_function(f"{path}:build")


def test_import_error_inside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "needs_pkg.py"
    path.write_text("import not_a_real_module_xyz\n\ndef build():\n    pass\n")
    with pytest.raises(SpecError, match=r"ModuleNotFoundError.*not_a_real_module_xyz.*line 1"):
        load_function(f"{path}:build")


def test_missing_module() -> None:
    with pytest.raises(SpecError, match="no module named 'no_such_pkg_abc'"):
        load_function("no_such_pkg_abc.models:build")


def test_a_file_that_is_not_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes_xyz.txt").write_text("def build(): pass\n")
    with pytest.raises(SpecError, match=r"notes_xyz.txt is a file, but .* ending in \.py"):
        load_function("notes_xyz.txt:build")


def test_a_file_inside_a_package_gets_its_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python mypkg/sub/train.py` fails on `from ..helpers import`; lrfind imports the
    # file as mypkg.sub.train, as `python -m` would, from any cwd.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    monkeypatch.chdir(tmp_path)
    package = tmp_path / "code" / "relpkg_xyz"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "helpers.py").write_text("WIDTH = 3\n")
    (package / "sub" / "train.py").write_text(
        "from ..helpers import WIDTH\n\ndef build():\n    return WIDTH\n"
    )
    func, _ = load_function(f"{package / 'sub' / 'train.py'}:build")
    assert func() == 3
    assert func.__module__ == "relpkg_xyz.sub.train"


def test_a_relative_import_outside_a_package_is_the_users_error(tmp_path: Path) -> None:
    (tmp_path / "loose_xyz.py").write_text("from .helpers import WIDTH\n")
    with pytest.raises(SpecError, match="no known parent package.*line 1"):
        load_function(f"{tmp_path / 'loose_xyz.py'}:build")


def test_a_spec_may_name_an_attribute_of_a_class(tmp_path: Path) -> None:
    (tmp_path / "factory_xyz.py").write_text(
        "class Factory:\n    @staticmethod\n    def build(width=2):\n        return width\n"
    )
    func, label = load_function(f"{tmp_path / 'factory_xyz.py'}:Factory.build")
    assert func(width=5) == 5
    assert label.startswith("Factory.build() in ")
    with pytest.raises(SpecError, match="factory_xyz.py:Factory has no attribute 'biuld'"):
        load_function(f"{tmp_path / 'factory_xyz.py'}:Factory.biuld")


def test_an_attribute_that_raises_is_named_in_the_specs_words(tmp_path: Path) -> None:
    (tmp_path / "holder_xyz.py").write_text(
        "class Holder:\n    @property\n    def build(self):\n"
        "        raise ValueError('no config')\n"
        "holder = Holder()\n"
    )
    with pytest.raises(SpecError, match=r"holder_xyz.py:holder.build raised ValueError: no config"):
        load_function(f"{tmp_path / 'holder_xyz.py'}:holder.build")
