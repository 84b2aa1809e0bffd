"""timm's layer decay, outputs that are not a tensor, detection batches, the 4-tuple (issue 14).

Real timm and torchvision models from configs (pretrained=False, weights=None),
tiny, on generated data: nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from lrfind import SpecError, SweepConfig, SweepError, Task, find_lr
from lrfind.cli import app
from lrfind.sweep.groups import group_ratios
from lrfind.sweep.optim import prepare
from lrfind.sweep.task import task_from_build

STACKS = Path(__file__).parent / "assets" / "stacks"
CPU = torch.device("cpu")
FAST = {"steps": 8, "device": "cpu", "end_lr": 1e-3}


def _cli(spec: str, tmp_path: Path, *extra: str) -> tuple[int, str, dict | None]:
    args = ["run", f"{STACKS / spec}", "--steps", "20", "--device", "cpu", "--no-plot"]
    result = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path), *extra])
    path = tmp_path / "report.json"
    report = json.loads(path.read_text()) if path.exists() else None
    return result.exit_code, result.output, report


def test_timm_lr_scale_is_honoured_as_timm_schedulers_do() -> None:
    pytest.importorskip("timm", reason="timm is in the dev extra")
    from stacks import timm_layer_decay

    spec = timm_layer_decay.build()
    _, optimizer = prepare(Task(**spec), SweepConfig(), CPU)
    scales = [g["lr_scale"] for g in optimizer.param_groups]
    assert min(scales) < 0.5 and max(scales) == 1.0
    assert group_ratios(optimizer) == pytest.approx(scales)  # every group's lr is the same base
    # After a timm scheduler "lr" holds base x lr_scale already: the ratios must not double it.
    scheduled = timm_layer_decay.build_scheduled()
    _, optimizer = prepare(Task(**scheduled), SweepConfig(), CPU)
    assert group_ratios(optimizer) == pytest.approx(scales)


def test_timm_create_optimizer_v2_as_a_factory_gets_the_model() -> None:
    pytest.importorskip("timm", reason="timm is in the dev extra")
    from stacks import timm_layer_decay

    _, from_factory = prepare(Task(**timm_layer_decay.build_factory()), SweepConfig(), CPU)
    _, built = prepare(Task(**timm_layer_decay.build()), SweepConfig(), CPU)
    shape = [(len(g["params"]), g["weight_decay"], g["lr_scale"]) for g in built.param_groups]
    assert len(shape) > 2  # the groups the user's own training gets
    assert [
        (len(g["params"]), g["weight_decay"], g["lr_scale"]) for g in from_factory.param_groups
    ] == shape


def test_timm_curve_changes_with_layer_decay(tmp_path: Path) -> None:
    pytest.importorskip("timm", reason="timm is in the dev extra")
    code, output, report = _cli("timm_layer_decay.py:build", tmp_path, "--json")
    assert code == 0, output
    training = report["training"]
    assert "lr_scale applied" in output or len(training["param_groups"]) > 4
    ratios = [g["lr_ratio"] for g in training["param_groups"]]
    assert min(ratios) < 0.5 and max(ratios) == pytest.approx(1.0)
    assert isinstance(report["schedules"]["one_cycle"]["kwargs"]["max_lr"], list)
    from stacks import timm_layer_decay

    plain = timm_layer_decay.build_no_decay()
    decayed = timm_layer_decay.build()
    decayed["model"].load_state_dict(plain["model"].state_dict())  # the same weights
    a = find_lr(Task(**plain), **FAST).history.losses
    b = find_lr(Task(**decayed), **FAST).history.losses
    assert a[0] == b[0] and a != b  # same start, then the layer-wise LRs differ


def test_tuple_outputs_are_a_spec_error_that_shows_the_step_fn(tmp_path: Path) -> None:
    code, output, _ = _cli("tuple_output.py:build", tmp_path)
    assert code == 2, output
    assert "Outputs (logits, aux_logits2, aux_logits1)" in output
    assert "model(batch[0]).logits" in output and "step_fn" in output
    code, output, _ = _cli("tuple_output.py:build_step_fn", tmp_path)
    assert code == 0, output


def test_googlenet_aux_outputs(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    code, output, _ = _cli("tuple_output.py:build_googlenet", tmp_path)  # fails at step 1: cheap
    assert code == 2, output
    assert "GoogLeNetOutputs (logits, aux_logits2, aux_logits1), which loss_fn rejects" in output


def test_a_model_output_through_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="transformers is in the dev extra")
    code, output, report = _cli("hf_output.py:build", tmp_path)
    assert code == 0, output
    note = "the model returns a SequenceClassifierOutput: its .logits go to loss_fn"
    assert report["training"]["notes"] == [note] and f"Note: {note}" in output


def test_segmentation_dicts_are_not_summed(tmp_path: Path) -> None:
    code, output, _ = _cli("seg_output.py:build", tmp_path)
    assert code == 2, output
    assert "an OrderedDict ('out': shape [8, 3, 32, 32]" in output and "['out']" in output


def test_detection_batches_and_loss_dicts(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    code, output, report = _cli("detection_losses.py:build", tmp_path)
    assert code == 0, output
    notes = report["training"]["notes"]
    assert "batches are (images, target dicts): model(images, targets)" in notes
    assert any("dict of 4 losses (loss_classifier" in n for n in notes)
    assert report["training"]["default"] is True  # lrfind's SGD, and the output says so
    assert "lrfind's default: to sweep yours, pass --optimizer NAME" in output


def test_a_dict_of_losses_leaves_its_metrics_out() -> None:
    """mmdet/DETR-style outputs carry metrics beside the losses: an accuracy that rises to
    100 summed in would read as a divergence. Keys named loss... count, else the ones with
    a gradient; under no_grad (the validation pass) neither rule drops anything else."""
    from lrfind.sweep.adapters.outputs import summed_losses

    w = torch.ones((), requires_grad=True)
    notes: list[str] = []
    out = {"loss_cls": 2 * w, "loss_box": 3 * w, "acc": torch.tensor(97.0)}
    assert summed_losses(out, notes).item() == 5.0
    summed = "the model returns a dict of 2 losses (loss_cls, loss_box): summed"
    assert notes == [summed + "; left out acc (not a loss)"]
    unnamed = {"ce": 2 * w, "top1": torch.tensor(97.0), "top5": torch.tensor(99.0)}
    assert summed_losses(unnamed, notes).item() == 2.0
    assert notes[-1] == "the model returns a dict: its loss is ce; left out top1, top5 (not losses)"
    with torch.no_grad():
        assert summed_losses({"ce": 2 * w, "aux": 3 * w}, []).item() == 5.0


def test_a_pair_batch_without_loss_fn_names_step_fn() -> None:
    model = nn.Linear(2, 1)
    batches = [(torch.randn(4, 2), torch.randn(4, 1))]
    with pytest.raises(SpecError, match="no loss_fn.*step_fn"):
        find_lr(model, batches, **FAST)


@pytest.mark.parametrize("build", ["build", "build_instance"])
def test_a_four_tuple_carries_the_optimizer(build: str, tmp_path: Path) -> None:
    code, output, report = _cli(f"four_tuple.py:{build}", tmp_path)
    assert code == 0, output
    assert report["training"]["optimizer"] == ("AdamW" if build == "build" else "Adam")
    assert report["training"]["origin"] == "from build"


def test_five_items_are_still_an_error() -> None:
    with pytest.raises(SpecError, match="returned a 5-tuple"):
        task_from_build((nn.Linear(1, 1), [], None, None, None), "build()")


def test_an_optimizer_name_in_the_python_api() -> None:
    model = nn.Linear(2, 1)
    batches = [(torch.randn(4, 2), torch.randn(4, 1))] * 2
    result = find_lr(model, batches, nn.MSELoss(), optimizer="adam", **FAST)
    assert result.optimizer == "Adam" and result.config.optimizer == "adam"
    assert result.training is not None and result.training.origin == "named in the settings"


class _TwoHeads(nn.Module):
    """A model that returns (out, aux) or {"out": ..., "aux": ...}, as segmentation nets do."""

    def __init__(self, as_dict: bool) -> None:
        super().__init__()
        self.net, self.as_dict = nn.Linear(4, 1), as_dict

    def forward(self, x: torch.Tensor) -> object:
        y = self.net(x)
        return {"out": y, "aux": y} if self.as_dict else (y, y)


@pytest.mark.parametrize("loss_fn", [nn.MSELoss(), nn.L1Loss(), nn.HuberLoss()])
@pytest.mark.parametrize("as_dict", [False, True])
def test_regression_losses_on_a_tuple_or_dict_output_name_the_step_fn_fix(
    loss_fn: nn.Module, as_dict: bool
) -> None:
    # The regression losses raise AttributeError on a tuple ('no attribute size'), not the
    # TypeError of the classification ones: the same one-line fix either way.
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
    with pytest.raises(SpecError, match="which loss_fn rejects .*: return a step_fn, e.g. "):
        find_lr(_TwoHeads(as_dict), data, loss_fn, steps=10, device="cpu")


@dataclasses.dataclass
class _Out:
    logits: torch.Tensor
    features: torch.Tensor


class _DataclassOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> _Out:
        return _Out(self.net(x), x)


def test_a_dataclass_output_names_its_fields_and_the_step_fn_as_a_namedtuple_does() -> None:
    data = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(4)]
    with pytest.raises(
        SpecError, match=r"returns _Out \(logits, features\), which loss_fn rejects"
    ) as e:
        find_lr(_DataclassOut(), data, nn.CrossEntropyLoss(), steps=10, device="cpu")
    assert "model(batch[0]).logits" in str(e.value) and e.value.exit_code == 2


class _FakeDetector(nn.Module):
    """torchvision's convention: losses in train mode, per-image predictions in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 4)

    def forward(self, images: Any, targets: Any = None) -> Any:
        if self.training and targets is None:  # torchvision's own words
            raise AssertionError("targets should not be none when in training mode")
        outs = [self.net(im.flatten()[:4]) for im in images]
        if not self.training:
            return [{"boxes": o.detach(), "labels": torch.ones(1)} for o in outs]
        return {
            "loss_box": sum(
                (o - t["boxes"][0]).pow(2).mean() for o, t in zip(outs, targets, strict=True)
            )
        }


def _boxes(n: int, vary: bool = False) -> list[Any]:
    return [
        (
            torch.rand(3, 8, 8),
            {"boxes": torch.rand(1 + (i % 2) * vary, 4), "labels": torch.ones(1).long()},
        )
        for i in range(n)
    ]


def test_detection_batches_collated_by_default_name_the_collate_fn() -> None:
    stacked = torch.utils.data.DataLoader(_boxes(16), batch_size=4)  # targets: one dict of stacks
    with pytest.raises(
        SpecError, match=r"one dict of batched tensors \(boxes, labels\).*tuple\(zip"
    ):
        find_lr(_FakeDetector(), stacked, steps=8, device="cpu")
    varying = torch.utils.data.DataLoader(_boxes(16, vary=True), batch_size=4)  # cannot stack
    with pytest.raises(SweepError, match=r"the samples differ in size: pad them in a collate_fn"):
        find_lr(_FakeDetector(), varying, steps=8, device="cpu")


def test_detection_batches_with_a_loss_fn_say_to_drop_it() -> None:
    """The model takes the targets and returns its losses: a loss_fn makes lrfind call
    model(images), and torchvision asserts "targets should not be none" (was exit 1)."""
    loader = torch.utils.data.DataLoader(
        _boxes(16), batch_size=4, collate_fn=lambda b: tuple(zip(*b, strict=True))
    )
    with pytest.raises(SpecError, match=r"build returned a loss_fn: .* drop the loss_fn") as e:
        find_lr(_FakeDetector(), loader, nn.MSELoss(), steps=8, device="cpu")
    assert e.value.exit_code == 2

    # Any other failure on such batches is the user's own, in its own words (helper-55).
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(7, 4)  # the images flatten to 8 values: a shape bug

        def forward(self, images: Any) -> Any:
            return self.net(torch.stack([im.flatten()[:8] for im in images]))

    def loss_fn(out: Any, targets: Any) -> Any:
        return out.pow(2).mean()

    with pytest.raises(
        SweepError, match=r"step 1/8 \(lr 1e-07\) failed: RuntimeError: addmm: mat1"
    ):
        find_lr(Broken(), loader, loss_fn, steps=8, device="cpu")


def test_a_meta_tensor_made_in_forward_is_the_users_error_not_the_batches() -> None:
    class MakesMeta(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x) + torch.zeros(1, device="meta").cpu()

    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
    with pytest.raises(SweepError, match=r"failed: NotImplementedError: Cannot copy out of meta"):
        find_lr(MakesMeta(), data, nn.MSELoss(), steps=8, device="cpu")


class SoftTargetCrossEntropy(nn.Module):
    """timm's loss (its name is how lrfind knows it): soft (N, C) targets from Mixup."""

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sum(-target * torch.log_softmax(x, dim=-1), dim=-1).mean()


def test_soft_target_cross_entropy_on_class_ids_names_the_mixup() -> None:
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(4)]
    with pytest.raises(SpecError, match=r"SoftTargetCrossEntropy, which takes \(N, C\) soft"):
        find_lr(nn.Linear(4, 3), data, SoftTargetCrossEntropy(), steps=8, device="cpu")


def test_a_detection_val_loader_names_that_eval_mode_gives_predictions() -> None:
    loader = torch.utils.data.DataLoader(
        _boxes(16), batch_size=4, collate_fn=lambda b: tuple(zip(*b, strict=True))
    )
    task = Task(_FakeDetector(), loader, val_loader=loader)
    with pytest.raises(
        SpecError, match=r"in eval mode the model returns 4 per-image predictions, not losses"
    ):
        find_lr(task, steps=8, val_batches=1, device="cpu")


class _DictModel(nn.Module):
    """A transformers-style model on dict batches: (loss, logits) with return_dict=False."""

    def __init__(self, tuple_out: bool) -> None:
        super().__init__()
        self.net, self.tuple_out = nn.Linear(4, 2), tuple_out

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, **_: object):  # type: ignore[no-untyped-def]
        logits = self.net(x)
        if labels is None:
            return {"logits": logits}
        loss = nn.functional.cross_entropy(logits, labels)
        return (loss, logits) if self.tuple_out else {"loss": loss, "logits": logits}


def _dict_batches(key: str) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [{"x": torch.randn(8, 4, generator=g), key: torch.randint(0, 2, (8,), generator=g)}
            for _ in range(4)]  # fmt: skip


def test_a_tuple_whose_first_item_is_a_scalar_is_the_loss() -> None:
    result = find_lr(_DictModel(tuple_out=True), _dict_batches("labels"), steps=10)
    assert result.training is not None
    assert "the model returns a tuple: its first item, a scalar, is the loss" in (
        result.training.notes
    )


def test_no_loss_from_a_dict_batch_names_its_keys_and_labels() -> None:
    with pytest.raises(SpecError, match=r"\(batch keys: x, label; a transformers model computes"):
        find_lr(_DictModel(tuple_out=False), _dict_batches("label"), steps=10)
