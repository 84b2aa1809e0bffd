"""The sweep is the user's training: clipping, BatchNorm in validation mode, param groups
in the schedules, the optimizer named everywhere (issue 14). Plain torch, fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from lrfind import SweepConfig, Task, find_lr
from lrfind.cli import app
from lrfind.config import resolve
from lrfind.core.plan import plan
from lrfind.output.plot import _title
from lrfind.output.report import report_dict
from lrfind.output.terminal import plan_lines, training_lines
from lrfind.sweep.evaluate import BatchStats
from lrfind.sweep.step import Stepper

from .assets import tiny
from .conftest import TINY

CPU = torch.device("cpu")


class Recording(torch.optim.SGD):
    """SGD that records the gradient norm it is asked to step with."""

    norms: list[float] = []

    def step(self, closure=None):  # type: ignore[no-untyped-def]
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        Recording.norms.append(
            float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
        )
        return super().step(closure)


def _big_gradients() -> Task:
    model = nn.Linear(4, 1)
    batches = [(torch.randn(16, 4) * 100, torch.randn(16, 1) * 100)]
    return Task(model, batches, nn.MSELoss(), optimizer=Recording)


@pytest.mark.parametrize(("mode", "bound"), [("norm", 0.5), ("value", 0.01)])
def test_clip_grad_bounds_every_step(mode: str, bound: float) -> None:
    Recording.norms = []
    find_lr(_big_gradients(), steps=6, end_lr=1e-6, device="cpu", clip_grad=bound, clip_mode=mode)
    limit = bound if mode == "norm" else bound * 5**0.5  # 5 values each at most `bound`
    assert len(Recording.norms) == 6 and max(Recording.norms) <= limit * (1 + 1e-5)
    Recording.norms = []
    find_lr(_big_gradients(), steps=6, end_lr=1e-6, device="cpu")
    assert min(Recording.norms) > 10  # without clipping the gradients are large


def test_clipping_stays_out_of_the_lean_step() -> None:
    model, loader, loss = tiny.build()
    assert Stepper(Task(model, loader, loss), SweepConfig(), CPU).lean
    stepper = Stepper(Task(model, loader, loss), SweepConfig(clip_grad=1.0), CPU)
    assert not stepper.lean and stepper.clip is not None
    assert Stepper(Task(model, loader, loss), SweepConfig(clip_grad=0.0), CPU).clip is None


def test_clip_grad_from_the_command_line_and_the_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('spec = "x.py:build"\n[sweep]\nclip_grad = 0.25\nclip_mode = "value"\n')
    cfg = resolve(None, {}, None, str(config))
    assert (cfg.sweep.clip_grad, cfg.sweep.clip_mode) == (0.25, "value")
    assert {"clip_grad", "clip_mode"} <= cfg.explicit
    cfg = resolve("x.py:build", {"clip_grad": 2.0}, None, str(config))
    assert cfg.sweep.clip_grad == 2.0
    result = CliRunner().invoke(
        app, ["run", f"{TINY}:build", "--clip-grad", "1", "--steps", "10", "--no-plot",
              "--json", "--out-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["config"]["clip_grad"] == 1.0 and report["training"]["clip_grad"] == 1.0


def _bn_task() -> Task:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    train = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]
    return Task(model, train, nn.MSELoss(), val_loader=[(x[48:], y[48:])])


def test_validation_uses_batch_statistics_and_leaves_the_buffers() -> None:
    task = _bn_task()
    stepper = Stepper(task, SweepConfig(), CPU)
    bn = stepper.model[1]
    bn.running_mean.fill_(5.0)  # stale statistics: eval mode would normalise with these
    before = [b.clone() for b in bn.buffers()]
    loss = stepper.val_loss()
    x, y = task.val_loader[0]
    with torch.no_grad():
        h = stepper.model[0](x)
        h = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + bn.eps) * bn.weight + bn.bias
        expected = nn.functional.mse_loss(stepper.model[3](torch.relu(h)), y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(bn.buffers(), before, strict=True))
    assert stepper.model.training and bn.training
    assert any("BatchNorm on batch statistics" in n for n in stepper.notes)


def test_batch_stats_touch_nothing_without_batchnorm() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).eval()
    with BatchStats(model) as stats:
        assert stats.layers == [] and not model[1].training


def test_batch_stats_leave_a_frozen_eval_layer_on_its_running_statistics() -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 4), nn.BatchNorm1d(4))
    model[1].eval()  # frozen by the user: it trains on its running statistics
    model.eval()
    model[3].train()  # as the sweep's copy is after model.train(), with model[1] kept frozen
    stats = BatchStats(model)
    assert stats.layers == [model[3]]


def _frozen_backbone(batch_size: int) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU())
    with torch.no_grad():  # "pre-trained" running statistics, far from a batch's own
        backbone[1].running_mean.fill_(0.5)
        backbone[1].running_var.fill_(4.0)
    backbone.eval().requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(16, 2))
    x = torch.randn(64, 8)
    data = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    return model, torch.utils.data.DataLoader(data, batch_size=batch_size)


def test_a_backbone_frozen_in_eval_mode_stays_so_in_the_copy() -> None:
    """build's deliberate mix of modes (a frozen BatchNorm backbone) is the training the
    user's loop runs: model.train() on the copy would sweep BatchNorm on batch statistics."""
    model, loader = _frozen_backbone(16)
    with torch.no_grad():
        first = nn.functional.cross_entropy(model(next(iter(loader))[0]), next(iter(loader))[1])
    result = find_lr(model, loader, nn.CrossEntropyLoss(), steps=20, device="cpu")
    assert result.history.losses[0] == first.item()  # on the running statistics
    assert any(n.startswith("kept 0 (Sequential) in eval mode") for n in result.training.notes)
    assert model.training and not model[0].training  # the user's modes, untouched
    # A batch of one through the frozen BatchNorm works, as in the user's loop.
    one = find_lr(*_frozen_backbone(1), nn.CrossEntropyLoss(), steps=8, device="cpu")
    assert len(one.history.losses) == 8


def test_a_model_wholly_in_eval_mode_is_swept_in_train_mode() -> None:
    model, loader = _frozen_backbone(16)
    model.eval()  # left so after an evaluation: no mix, nothing kept
    result = find_lr(model, loader, nn.CrossEntropyLoss(), steps=8, device="cpu")
    assert not any("eval mode" in n for n in result.training.notes)
    assert not model.training and not model[0].training


def test_validation_sweep_notes_batch_statistics() -> None:
    result = find_lr(_bn_task(), steps=6, end_lr=1e-3, device="cpu")
    assert result.loss_source == "validation"
    assert any("BatchNorm on batch statistics" in n for n in result.training.notes)


def _two_groups() -> Task:
    model, loader, loss = tiny.build()
    first, *rest = list(model.parameters())
    optimizer = torch.optim.AdamW([{"params": [first], "lr": 1e-3}, {"params": rest, "lr": 1e-2}])
    return Task(model, loader, loss, optimizer=optimizer)


def test_the_groups_reach_the_report_the_terminal_and_the_schedules() -> None:
    result = find_lr(_two_groups(), steps=60, device="cpu")
    assert result.suggested_lr is not None
    t = result.training
    assert (
        t is not None and t.ratios == pytest.approx([1.0, 10.0]) and t.origin == "given to find_lr"
    )
    report = report_dict(result)
    groups = report["training"]["param_groups"]
    assert groups[1]["lr_at_suggestion"] == pytest.approx(10 * result.suggested_lr)
    one_cycle = report["schedules"]["one_cycle"]["kwargs"]["max_lr"]
    assert isinstance(one_cycle, list) and one_cycle[1] == pytest.approx(
        10 * one_cycle[0], rel=0.01
    )
    assert "2 param groups at 1, 10 x the LR" in training_lines(result)[0]
    assert any("the suggested LR is group 0's" in line for line in plan_lines(result))
    assert _title(result).startswith("LR range test: AdamW, ")


@pytest.mark.parametrize("name", ["one_cycle", "cyclic", "warmup_cosine"])
def test_group_snippets_run_and_keep_the_ratios(name: str) -> None:
    lrs = [10 ** (-7 + k / 10) for k in range(80)]
    loss = [2.0 - (1.5 if lr > 1e-3 else 0.0) * min(1.0, lr / 1e-2) for lr in lrs]
    p = plan(lrs, loss, 0.01, 200, ratios=[1.0, 0.25])
    assert p is not None
    snippet = p.schedules[name].snippet
    assert "the headline LR is group 0's" in snippet
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=1.0)
    namespace: dict[str, object] = {"optimizer": optimizer}
    exec(compile(snippet, "<snippet>", "exec"), namespace)
    scheduler = namespace["scheduler"]
    for _ in range(60):
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
        a, b = (g["lr"] for g in optimizer.param_groups)
        assert b == pytest.approx(0.25 * a, rel=0.02)


def test_lrfinds_default_optimizer_is_said_so() -> None:
    result = find_lr(*tiny.build(), steps=10, device="cpu")
    t = result.training
    assert t is not None and t.default and t.optimizer == "SGD"
    assert "SGD(momentum=0.9), lrfind's default" in training_lines(result)[0]
    assert "--optimizer NAME or return your optimizer from build" in training_lines(result)[0]
    assert _title(result).startswith("LR range test: SGD (lrfind's default), ")
    assert report_dict(result)["training"]["default"] is True


def test_the_swept_line_says_the_decay_each_group_trains_with() -> None:
    # The constructor's weight_decay=0.01 is no group's: the head must not claim it.
    model, loader, loss = tiny.build()
    first, *rest = list(model.parameters())
    groups = [{"params": rest, "weight_decay": 0.0}, {"params": [first], "weight_decay": 0.05}]
    optimizer = torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.01, eps=1e-6)
    line = training_lines(find_lr(Task(model, loader, loss, optimizer=optimizer), steps=8))[0]
    assert line.startswith("Swept: AdamW(betas=(0.9, 0.999), eps=1e-06) (given to find_lr); ")
    assert "2 param groups at 1, 1 x the LR, weight decay 0 / 0.05" in line  # group order
    # One decay all groups share is the head's.
    shared = [{"params": rest, "weight_decay": 0.2}, {"params": [first], "weight_decay": 0.2}]
    task = Task(model, loader, loss, optimizer=torch.optim.SGD(shared, lr=0.1))
    line = training_lines(find_lr(task, steps=8))[0]
    assert line.startswith("Swept: SGD(momentum=0, weight_decay=0.2) (given to find_lr)")
    assert "decay 0.2 /" not in line


def test_a_frozen_group_0_is_named() -> None:
    """Discriminative LRs with the backbone frozen for now: group 0 trains nothing."""
    from lrfind import SpecError

    model, loader, loss = tiny.build()
    model[0].requires_grad_(False)
    later = [{"params": model[0].parameters(), "lr": 1e-3}, {"params": model[2].parameters()}]
    result = find_lr(model, loader, loss, optimizer=torch.optim.SGD(later, lr=0.1), steps=10)
    assert result.training is not None
    assert result.training.notes == [
        "param group 0 is frozen (requires_grad=False): the LRs shown are its own, and group 1, "
        "the first that trains, ran at 100 x them"
    ]
    # An empty group 0 at another LR: its LR is the headline and applies to no parameter.
    model[0].requires_grad_(True)
    empty = [{"params": [], "lr": 1e-3}, {"params": model.parameters()}]
    result = find_lr(model, loader, loss, optimizer=torch.optim.SGD(empty, lr=0.1), steps=10)
    assert result.training.notes == [
        "param group 0 holds no parameters: the LRs shown are its own, and group 1, "
        "the first that trains, ran at 100 x them"
    ]
    same = [{"params": []}, {"params": model.parameters()}]  # at the same LR: nothing to say
    assert (
        find_lr(
            model, loader, loss, optimizer=torch.optim.SGD(same, lr=0.1), steps=10
        ).training.notes
        == []
    )
    model[0].requires_grad_(False)
    at_zero = [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[2].parameters()}]
    with pytest.raises(SpecError, match=r"lr 0 \(it is frozen\).*LR it is to train at once"):
        find_lr(model, loader, loss, optimizer=torch.optim.SGD(at_zero, lr=0.1), steps=10)


def test_the_default_optimizer_holds_only_what_trains() -> None:
    """A PeftModel's few trainable tensors, not every frozen one (the report's params)."""
    model, loader, loss = tiny.build()
    model[0].requires_grad_(False)
    result = find_lr(model, loader, loss, steps=8)
    assert result.training is not None and [g.params for g in result.training.groups] == [2]


def test_an_optimizer_of_frozen_parameters_only_is_named_before_the_sweep() -> None:
    """Built before freezing (or before get_peft_model): it holds none of what trains."""
    from lrfind import SpecError

    model, loader, loss = tiny.build()
    optimizer = torch.optim.AdamW(model[0].parameters())
    model[0].requires_grad_(False)
    with pytest.raises(SpecError, match="holds only frozen parameters.*model's 9 trainable"):
        find_lr(model, loader, loss, optimizer=optimizer, steps=10)


def test_param_groups_a_sweep_cannot_scale_are_named() -> None:
    from lrfind import SpecError

    model, loader, loss = tiny.build()
    # Freezing the body by LR 0 in group 0: every group is swept as a multiple of group 0's
    # LR, so this swept the frozen body at the head's LR, silently.
    frozen_first = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[2].parameters()}], lr=0.1
    )
    with pytest.raises(SpecError, match="param group 0 has lr 0 and another has not"):
        find_lr(model, loader, loss, optimizer=frozen_first, steps=10)
    # The body frozen in a later group stays frozen: its ratio is 0.
    frozen_last = torch.optim.SGD(
        [{"params": model[2].parameters()}, {"params": model[0].parameters(), "lr": 0.0}], lr=0.1
    )
    result = find_lr(model, loader, loss, optimizer=frozen_last, steps=10)
    assert result.training is not None and result.training.ratios == [1.0, 0.0]

    class StepSize(torch.optim.Optimizer):  # a custom optimizer with no "lr" in its groups
        def __init__(self, params: object) -> None:
            super().__init__(params, {"step_size": 0.1})

        def step(self, closure: object = None) -> None:
            for group in self.param_groups:
                for p in group["params"]:
                    p.data.add_(p.grad, alpha=-group["step_size"])

    with pytest.raises(SpecError, match="param groups have no 'lr'"):
        find_lr(model, loader, loss, optimizer=StepSize(model.parameters()), steps=10)
