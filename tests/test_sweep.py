"""The sweep through the Python API: behaviour, state safety, determinism."""

from __future__ import annotations

import copy
import dataclasses
import random
import re
import warnings
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from lrfind import ConfigError, SpecError, SweepConfig, SweepError, Task, UsageError, find_lr
from lrfind.core.curve import lr_schedule
from lrfind.sweep.device import move_to
from lrfind.sweep.groups import group_ratios
from lrfind.sweep.loop import run_sweep
from lrfind.sweep.optim import prepare
from lrfind.sweep.targets import broadcast_watch

from .assets import tiny

NEVER = 1e12  # a divergence threshold that never triggers


def _snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "state": {k: v.clone() for k, v in model.state_dict(keep_vars=True).items()},
        "ids": {k: id(v) for k, v in model.state_dict(keep_vars=True).items()},
        "grad": {k: p.requires_grad for k, p in model.named_parameters()},
        "training": [m.training for m in model.modules()],
    }


def _assert_same(model: nn.Module, before: dict[str, Any]) -> None:
    after = model.state_dict(keep_vars=True)
    assert {k: id(v) for k, v in after.items()} == before["ids"]
    for k, v in before["state"].items():
        assert torch.equal(after[k], v), k  # bitwise
    assert {k: p.requires_grad for k, p in model.named_parameters()} == before["grad"]
    assert [m.training for m in model.modules()] == before["training"]


def _bn_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    model[0].bias.requires_grad_(False)
    return model.eval()  # the sweep must train a copy without flipping this


def test_model_untouched_after_success() -> None:
    model = _bn_model()
    _, loader, loss = tiny.build()
    before = _snapshot(model)
    result = find_lr(model, loader, loss, steps=30, device="cpu")
    assert result.steps_run > 5
    _assert_same(model, before)


class Exploding(nn.Module):
    """Raises inside forward on its 4th call."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = _bn_model()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 4:
            raise ValueError("shape mismatch in layer 3")
        return self.inner(x)


def test_model_untouched_after_an_exception_mid_sweep() -> None:
    model = Exploding()
    _, loader, loss = tiny.build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.inner(torch.randn(16, 4)).sum().backward()
    optimizer.step()  # the user's optimizer has momentum buffers of its own
    optimizer.zero_grad()
    buffers = {i: s["momentum_buffer"].clone() for i, s in optimizer.state_dict()["state"].items()}
    before = _snapshot(model)
    rng_before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    with pytest.raises(SweepError, match=r"step 4/30 .*ValueError: shape mismatch in layer 3") as e:
        find_lr(model, loader, loss, optimizer=optimizer, steps=30)
    assert e.value.history.steps_run == 3  # what ran before the failure is kept
    assert model.calls == 0  # the copy raised, not the original
    _assert_same(model, before)
    after = optimizer.state_dict()
    assert all(torch.equal(after["state"][i]["momentum_buffer"], b) for i, b in buffers.items())
    assert optimizer.param_groups[0]["lr"] == 0.05
    assert torch.equal(torch.get_rng_state(), rng_before[0])
    assert random.getstate() == rng_before[1]
    assert np.array_equal(np.random.get_state()[1], rng_before[2])


def test_global_rng_states_untouched() -> None:
    task = tiny.build()
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(7)
    states = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    find_lr(*task, steps=10)
    assert torch.equal(torch.get_rng_state(), states[0])
    assert random.getstate() == states[1]
    assert np.array_equal(np.random.get_state()[1], states[2])


def test_same_seed_same_history() -> None:
    task = tiny.build()
    a = find_lr(*task, steps=40, seed=3).history
    b = find_lr(*task, steps=40, seed=3).history
    c = find_lr(*task, steps=40, seed=4).history
    assert a.losses == b.losses and a.smoothed == b.smoothed and a.lrs == b.lrs
    assert a.losses != c.losses  # the seed drives the data order


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_recorded_lrs_are_the_schedule(mode: str) -> None:
    result = find_lr(*tiny.build(), steps=25, end_lr=1e-2, mode=mode, diverge_threshold=NEVER)
    assert result.stop_reason == "completed"
    assert result.history.lrs == lr_schedule(1e-7, 1e-2, 25, mode)


class RecordingSGD(torch.optim.SGD):
    log: list[list[float]] = []  # class attribute: shared by deep copies

    def step(self, closure: Any = None) -> Any:
        RecordingSGD.log.append([g["lr"] for g in self.param_groups])
        return super().step(closure)


def test_param_group_ratios_are_kept() -> None:
    model, loader, loss = tiny.build()
    optimizer = RecordingSGD(
        [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": model[2].parameters(), "lr": 0.03},
        ],
        momentum=0.9,
    )
    RecordingSGD.log = []
    result = find_lr(model, loader, loss, optimizer=optimizer, steps=20, end_lr=1.0)
    assert len(RecordingSGD.log) >= result.steps_run
    for (lr0, lr1), swept in zip(RecordingSGD.log, result.history.lrs, strict=False):
        assert lr0 == swept
        assert lr1 == pytest.approx(3 * swept)
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.03]  # the user's is untouched
    assert optimizer.state == {}


def test_named_optimizer_keeps_groups_from_build() -> None:
    task = Task(**tiny.build_groups())  # SGD, groups at lr 0.01 and 0.1
    config = SweepConfig(optimizer="adamw", optimizer_kwargs={"weight_decay": 0.5})
    _, optimizer = prepare(task, config, torch.device("cpu"))
    assert type(optimizer) is torch.optim.AdamW
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.5, 0.5]
    assert group_ratios(optimizer) == pytest.approx([1.0, 10.0])


def test_default_optimizer_is_sgd_with_momentum() -> None:
    _, optimizer = prepare(Task(*tiny.build()), SweepConfig(), torch.device("cpu"))
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.param_groups[0]["momentum"] == 0.9


def test_named_sgd_has_momentum_unless_the_config_sets_it() -> None:
    cpu = torch.device("cpu")
    _, optimizer = prepare(Task(*tiny.build()), SweepConfig(optimizer="sgd"), cpu)
    assert optimizer.param_groups[0]["momentum"] == 0.9  # as documented for --optimizer sgd
    plain = SweepConfig(optimizer="sgd", optimizer_kwargs={"momentum": 0.0})
    _, optimizer = prepare(Task(*tiny.build()), plain, cpu)
    assert optimizer.param_groups[0]["momentum"] == 0.0


def test_optimizer_factory_from_build_is_used() -> None:
    _, optimizer = prepare(Task(**tiny.build_dict()), SweepConfig(), torch.device("cpu"))
    assert type(optimizer) is torch.optim.AdamW
    assert optimizer.param_groups[0]["weight_decay"] == 0.01


def _split_by_model(model: nn.Module) -> torch.optim.Optimizer:
    """A factory that needs the model (a decay / no-decay split), as training scripts write."""
    matrices = [p for p in model.parameters() if p.ndim > 1]
    vectors = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": matrices}, {"params": vectors, "weight_decay": 0.0}])


@pytest.mark.parametrize(
    "factory",
    [
        _split_by_model,
        lambda m: _split_by_model(m),  # named for no model: the params' generator fails first
    ],
    ids=["def-make(model)", "lambda m"],
)
def test_an_optimizer_factory_that_takes_the_model_gets_the_copy(factory: Any) -> None:
    user_model, loader, loss = tiny.build()
    task = Task(user_model, loader, loss, optimizer=factory)
    model, optimizer = prepare(task, SweepConfig(), torch.device("cpu"))
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 2]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    copied = {id(p) for p in model.parameters()}
    assert all(id(p) in copied for g in optimizer.param_groups for p in g["params"])


def test_a_factory_that_closes_over_the_users_model_is_named() -> None:
    """nanoGPT style, lambda params: m.configure_optimizers(...): the optimizer holds the
    user's parameters, not the copy's; the loss is not at fault."""
    user_model, loader, loss = tiny.build()
    task = Task(user_model, loader, loss, optimizer=lambda params: _split_by_model(user_model))
    with pytest.raises(SpecError, match=r"not those of the model it was given \(does it close"):
        prepare(task, SweepConfig(), torch.device("cpu"))


def test_channels_last_on_a_3d_conv_net_is_a_usage_error() -> None:
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    loader = [(torch.randn(2, 3, 4, 6, 6), torch.zeros(2).long())] * 8
    with pytest.raises(UsageError, match=r"5-d weights \(Conv3d\): drop --channels-last") as e:
        find_lr(model, loader, nn.CrossEntropyLoss(), steps=6, channels_last=True, device="cpu")
    assert e.value.exit_code == 2


def _half_task() -> Task:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).half()
    x = torch.randn(64, 8).half()
    data = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    opt = torch.optim.AdamW(model.parameters())  # grad**2 underflows, eps is 0: 0 / 0
    return Task(
        model,
        torch.utils.data.DataLoader(data, batch_size=16),
        nn.CrossEntropyLoss(),
        optimizer=opt,
    )


def test_a_float16_model_under_amp_fp16_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"parameters are float16 already: return it in float32"):
        find_lr(_half_task(), steps=8, amp="fp16", device="cpu")


def test_a_float16_model_whose_loss_turns_nan_at_once_is_told_its_dtype() -> None:
    result = find_lr(_half_task(), steps=40, device="cpu")  # AdamW in float16: NaN at step 2
    assert result.stop_reason == "nan" and result.steps_run < 10
    assert any(w.startswith("the model's parameters are float16") for w in result.warnings)


def test_parameters_outside_the_model_that_feed_the_loss_are_named() -> None:
    """A head a step_fn applies beside the model gathered the user's gradients all sweep
    long and never trained; it is named at step 1 and keeps no gradient."""
    body, loader, _ = tiny.build()
    head = nn.Linear(1, 1)

    def step_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        return nn.functional.mse_loss(head(model(batch[0])), batch[1])

    task = Task(body, loader, step_fn=step_fn)
    with pytest.raises(
        SpecError, match=r"depends on 2 parameters outside the model \(\[1, 1\], \[1\]\)"
    ):
        find_lr(task, steps=8, device="cpu")
    assert head.weight.grad is None
    # A closure over the model build returned keeps its own message (check_untouched).
    closure = Task(body, loader, step_fn=lambda m, b: nn.functional.mse_loss(body(b[0]), b[1]))
    with pytest.raises(SpecError, match="the loss used the model build\\(\\) returned"):
        find_lr(closure, steps=8, device="cpu")


def test_find_lr_on_a_ddp_wrapped_model_is_refused_before_it_can_wait_on_the_group() -> None:
    class DistributedDataParallel(nn.Module):  # as torch names its wrapper
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.module(x)

    model, loader, loss = tiny.build()
    with pytest.raises(SpecError, match=r"DistributedDataParallel-wrapped: give lrfind the plain"):
        find_lr(DistributedDataParallel(model), loader, loss, steps=6)


def test_find_lr_on_one_rank_of_a_users_process_group_says_each_rank_gets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(dist, "get_rank", lambda *a: 1)
    result = find_lr(*tiny.build(), steps=8, device="cpu")
    assert any(
        w.startswith("this sweep ran on rank 1 alone (a process group of 2")
        for w in result.warnings
    )


def test_divergence_stops_the_sweep() -> None:
    result = find_lr(*tiny.build(), steps=100)
    assert result.stop_reason == "diverged" and result.stopped_early
    assert result.steps_run < 100
    assert result.history.smoothed[-1] > 4 * min(result.history.smoothed)
    assert result.suggested_lr is not None


def test_nan_loss_stops_at_once_with_no_suggestion() -> None:
    result = find_lr(*tiny.nan_loss(), steps=50)
    assert result.stop_reason == "nan" and result.steps_run == 1
    assert result.suggested_lr is None
    assert all(s.reason for s in result.suggestions.values())


class CountingLoss(nn.MSELoss):
    calls = 0

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        CountingLoss.calls += 1
        return super().forward(out, y)


def test_short_loader_is_cycled_one_loss_call_per_step() -> None:
    model, _, _ = tiny.build()
    x, y = tiny._data(8)
    loader = torch.utils.data.DataLoader(list(zip(x, y.unsqueeze(1), strict=True)), batch_size=4)
    CountingLoss.calls = 0
    result = find_lr(model, loader, CountingLoss(), steps=30, end_lr=1e-3, diverge_threshold=NEVER)
    assert len(loader) == 2 and result.steps_run == 30
    assert CountingLoss.calls == 30


def test_validation_loss_is_used_when_given() -> None:
    task = tiny.build_val()
    result = find_lr(Task(**task), steps=8, end_lr=1e-3)
    assert result.loss_source == "validation" and result.steps_run == 8


@pytest.mark.parametrize(
    "name", ["build_hf", "build_hf_with_loss_fn", "build_step_fn", "build_dict"]
)
def test_other_batch_forms_sweep(name: str) -> None:
    returned = getattr(tiny, name)()
    task = Task(**returned) if isinstance(returned, dict) else Task(*returned)
    result = find_lr(task, steps=60)
    assert result.steps_run > 10 and result.suggested_lr is not None


def test_generator_loader_that_cannot_restart() -> None:
    model, loader, loss = tiny.build()
    batches = iter(list(loader))
    with pytest.raises(SpecError, match="stopped after 4 batches and cannot restart"):
        find_lr(model, batches, loss, steps=10)


def test_empty_loader() -> None:
    model, _, loss = tiny.build()
    with pytest.raises(SpecError, match="step 1/10: train_loader yielded no batches"):
        find_lr(model, [], loss, steps=10)


def test_an_empty_loader_is_told_apart_from_drop_last() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    model, _, loss = tiny.build()
    data = TensorDataset(torch.randn(10, 4), torch.randn(10, 1))
    small = DataLoader(data, batch_size=16, drop_last=True)  # 10 samples, no whole batch
    with pytest.raises(SpecError) as e:
        find_lr(model, small, loss, steps=10)
    assert str(e.value).endswith(
        "train_loader yielded no batches: its dataset has 10 samples, fewer than one batch "
        "(16) with drop_last=True: lower batch_size or set drop_last=False"
    )
    empty = DataLoader(TensorDataset(torch.randn(0, 4), torch.randn(0, 1)), batch_size=4)
    with pytest.raises(SpecError, match="no batches: its dataset is empty: check the data path"):
        find_lr(model, empty, loss, steps=10)
    with pytest.raises(SpecError, match=r"no batches: it is an empty list: check how build"):
        find_lr(model, [], loss, steps=10)  # no dataset to look at
    with pytest.raises(SpecError, match=r"no batches: is its dataset empty, or drop_last=True"):
        find_lr(model, iter([]), loss, steps=10)  # nothing to read at all


def test_no_trainable_parameters() -> None:
    model, loader, loss = tiny.build()
    model.requires_grad_(False)
    with pytest.raises(SpecError, match="no trainable parameters"):
        find_lr(model, loader, loss)


def test_loss_must_be_a_scalar() -> None:
    model, loader, _ = tiny.build()
    with pytest.raises(SpecError, match=r"step 1/100: the loss has shape \[16, 1\]"):
        find_lr(model, loader, nn.MSELoss(reduction="none"))


def test_should_stop_interrupts_at_a_step_boundary() -> None:
    polls = iter(range(100))
    history = run_sweep(
        Task(*tiny.build()),
        SweepConfig(steps=50),
        torch.device("cpu"),
        should_stop=lambda: next(polls) >= 7,
    )
    assert history.stop_reason == "interrupted" and history.steps_run == 7


def test_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="unknown setting.*stepz"):
        find_lr(*tiny.build(), stepz=10)


def test_device_cuda_without_cuda_is_a_usage_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(UsageError) as caught:
        find_lr(*tiny.build(), device="cuda")
    # Named as find_lr takes it, not as the CLI's flag.
    assert str(caught.value).startswith("device='cuda': CUDA is not available here")
    assert str(caught.value).endswith("use device='cpu' or device='auto'")


Pair = namedtuple("Pair", "x y")


def test_move_to_handles_nested_batches() -> None:
    t = torch.ones(2)
    batch = {"a": (t, [t, "text"]), "b": 3, "p": Pair(t, None)}
    moved = move_to(batch, torch.device("meta"))
    assert moved["a"][0].device.type == "meta" and moved["a"][1][0].device.type == "meta"
    assert moved["a"][1][1] == "text" and moved["b"] == 3
    assert isinstance(moved["p"], Pair) and moved["p"].x.device.type == "meta"
    assert t.device.type == "cpu"


def test_find_lr_takes_a_torch_device() -> None:
    # A notebook holds torch.device("cpu") (or "cuda:0") more often than the string.
    model, loader, loss = tiny.build()
    result = find_lr(model, loader, loss, steps=10, device=torch.device("cpu"))
    assert result.config.device == "cpu" and result.device.startswith("cpu")


def test_a_forward_returning_none_and_float_class_targets_get_a_fix() -> None:
    class NoReturn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> None:
            self.net(x)  # the return forgotten

    _, loader, loss = tiny.build()
    with pytest.raises(SweepError, match="did forward\\(\\) \\(or step_fn\\) return None"):
        find_lr(NoReturn(), loader, loss, steps=10)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,)).float()  # class ids as floats
    floats = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    with pytest.raises(SweepError, match="class indices as int64: targets as y.long\\(\\)"):
        find_lr(nn.Linear(4, 3), floats, nn.CrossEntropyLoss(), steps=10)


class _Lookahead(torch.optim.Optimizer):
    """A wrapper as timm's Lookahead is: its groups are the inner optimizer's, which
    Optimizer.__getstate__ (and so deepcopy) leaves out."""

    def __init__(self, base: torch.optim.Optimizer) -> None:
        self._base_optimizer = base
        self.defaults = base.defaults
        self.param_groups = base.param_groups
        self.state: Any = {}
        self._optimizer_step_pre_hooks: Any = {}
        self._optimizer_step_post_hooks: Any = {}

    def step(self, closure: Any = None) -> None:
        self._base_optimizer.step()


def test_a_wrapping_optimizer_keeps_its_inner_one_on_the_copy() -> None:
    model = nn.Linear(4, 1)
    wrapper = _Lookahead(torch.optim.SGD(model.parameters(), lr=0.1))
    task = Task(model=model, train_loader=tiny._loader(), loss_fn=nn.MSELoss(), optimizer=wrapper)
    copy_, optimizer = prepare(task, SweepConfig(), torch.device("cpu"))  # was AttributeError
    inner = optimizer._base_optimizer
    assert inner is not wrapper._base_optimizer and inner.param_groups is optimizer.param_groups
    assert {id(p) for p in inner.param_groups[0]["params"]} == {id(p) for p in copy_.parameters()}
    training = find_lr(task, steps=8, device="cpu").training
    assert training is not None and training.optimizer == "_Lookahead over SGD"


class _Accelerated(_Lookahead):
    """A wrapper as accelerate's AcceleratedOptimizer is: the inner one in `.optimizer`."""

    def __init__(self, base: torch.optim.Optimizer) -> None:
        super().__init__(base)
        self.optimizer = vars(self).pop("_base_optimizer")

    def step(self, closure: Any = None) -> None:
        self.optimizer.step()


def test_an_accelerated_optimizer_is_named_with_what_it_wraps() -> None:
    model = nn.Linear(4, 1)
    wrapper = _Accelerated(torch.optim.AdamW(model.parameters(), lr=1e-3))
    result = find_lr(model, tiny._loader(), nn.MSELoss(), optimizer=wrapper, steps=8)
    assert result.training is not None and result.training.optimizer == "_Accelerated over AdamW"
    assert result.optimizer == "AdamW"  # the sanity priors know AdamW's usual LRs


def test_a_complex_loss_and_meta_batches_are_named_with_their_fixes() -> None:
    """torch's words name no fix: 'grad can be implicitly created only for real scalar
    outputs', 'Cannot copy out of meta tensor; no data!' (both were exit 1)."""
    model, loader, loss = tiny.build()
    complex_loss = lambda out, y: loss(out, y) * (1 + 1j)  # noqa: E731
    with pytest.raises(SpecError, match=r"the loss is a torch.complex64 number, not a real one"):
        find_lr(model, loader, complex_loss, steps=8, device="cpu")
    x, y = next(iter(loader))
    meta = [(x.to("meta"), y.to("meta"))] * 4
    with pytest.raises(SpecError, match=r"the batches hold tensors on the meta device") as e:
        find_lr(model, meta, loss, steps=8, device="cpu")
    assert e.value.exit_code == 2


def test_a_forward_that_returns_numpy_is_named() -> None:
    class Numpy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> Any:
            return self.net(x).detach().numpy()

    _, loader, loss = tiny.build()
    with pytest.raises(SpecError, match=r"forward returned a numpy ndarray, not a tensor") as e:
        find_lr(Numpy(), loader, loss, steps=8, device="cpu")
    assert e.value.exit_code == 2


def test_an_optimizer_with_lr_none_names_the_fix_and_a_named_one_replaces_it() -> None:
    model = nn.Linear(4, 1)
    relative = torch.optim.SGD(model.parameters(), lr=0.1)
    relative.param_groups[0]["lr"] = None  # as Adafactor's relative step keeps it
    task = Task(model=model, train_loader=tiny._loader(), loss_fn=nn.MSELoss(), optimizer=relative)
    with pytest.raises(
        SpecError, match=r"lr=None .* give it a fixed one \(SGD\(params, lr=1e-3\)\)"
    ):
        find_lr(task, steps=8, device="cpu")  # was a float() TypeError
    named = find_lr(task, steps=8, device="cpu", optimizer="adamw")
    assert len(named.history.lrs) == 8
    # transformers' Adafactor raises for an lr while relative_step is on: the fix turns it off.
    relative.param_groups[0].update(relative_step=True, scale_parameter=True, warmup_init=False)
    fix = "SGD(params, lr=1e-3, relative_step=False, scale_parameter=False, warmup_init=False)"
    with pytest.raises(SpecError, match=re.escape(fix)):
        find_lr(task, steps=8, device="cpu")


class _CosFace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.randn(1, 3))

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((out @ self.centres) - y).pow(2).mean()


def test_a_loss_fn_with_trainable_parameters_is_exit_2_before_any_step() -> None:
    loss = _CosFace()
    task = Task(model=nn.Linear(4, 1), train_loader=tiny._loader(), loss_fn=loss)
    with pytest.raises(SpecError, match=r"loss_fn \(_CosFace\) has 3 trainable parameters"):
        find_lr(task, steps=8, device="cpu")
    assert loss.centres.grad is None  # the user's loss got no gradient


def test_a_failing_collate_fn_is_named_as_the_loader_not_the_model() -> None:
    x, y = tiny._data()
    data = torch.utils.data.TensorDataset(x, y.unsqueeze(1))

    def collate(items: list) -> Any:
        return None.pad(items)  # type: ignore[attr-defined]  # DataCollatorWithPadding(tokenizer=None)

    loader = torch.utils.data.DataLoader(data, batch_size=8, collate_fn=collate)
    task = Task(model=nn.Linear(4, 1), train_loader=loader, loss_fn=nn.MSELoss())
    # It said "did forward() (or step_fn) return None?".
    with pytest.raises(SweepError, match=r"step 1/8: taking a batch from the train loader") as e:
        find_lr(task, steps=8, device="cpu")
    assert "forward()" not in str(e.value)


def test_a_failure_in_the_validation_pass_says_so() -> None:
    x, _ = tiny._data()
    wrong = torch.utils.data.TensorDataset(x, torch.zeros(len(x), 5, 2))  # targets of another shape
    val = torch.utils.data.DataLoader(wrong, batch_size=16)
    loss = nn.L1Loss()
    task = Task(model=nn.Linear(4, 1), train_loader=tiny._loader(), loss_fn=loss, val_loader=val)
    with pytest.raises(SweepError, match=r"step 1/8 \(lr 1e-07\), in the validation pass"):
        find_lr(task, steps=8, device="cpu", val_batches=1)


def _dict_loader(inputs: str, targets: str) -> list[dict[str, torch.Tensor]]:
    x, y = tiny._data()
    return [{inputs: x[i : i + 16], targets: y[i : i + 16, None]} for i in range(0, 64, 16)]


def test_dict_batches_of_vision_keys_name_the_step_fn_to_write() -> None:
    model, loss = nn.Linear(4, 1), nn.MSELoss()
    task = Task(model=model, train_loader=_dict_loader("image", "label"), loss_fn=loss)
    fix = r"step_fn=lambda model, batch: loss_fn\(model\(batch\['image'\]\), batch\['label'\]\)"
    with pytest.raises(SpecError, match=fix):  # it said "let the model compute .loss"
        find_lr(task, steps=8, device="cpu")
    task = Task(model=model, train_loader=_dict_loader("pixel_values", "labels"), loss_fn=loss)
    with pytest.raises(SpecError, match=r"rejects them .*batch\['pixel_values'\]"):  # was exit 1
        find_lr(task, steps=8, device="cpu")


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode], ids=str)
def test_a_sweep_trains_when_called_with_grad_off(context: Any) -> None:
    """A notebook cell under torch.no_grad() (or after an evaluation's inference_mode)."""
    task = tiny.build()
    outside = find_lr(*task, steps=20, end_lr=1e-2, diverge_threshold=NEVER)
    with context():
        inside = find_lr(*task, steps=20, end_lr=1e-2, diverge_threshold=NEVER)
        assert not torch.is_grad_enabled()  # the caller's mode, unchanged
    assert inside.history.losses == outside.history.losses


def test_the_broadcast_watch_passes_other_warnings_on_and_keeps_the_users_filters() -> None:
    """The first step's watch for torch's broadcast warning (see broadcast_watch)."""
    shown: list[str] = []
    original = warnings.showwarning
    warnings.showwarning = lambda message, *rest: shown.append(str(message))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            with broadcast_watch():
                warnings.warn("the user's own warning", UserWarning, stacklevel=1)
            assert shown == ["the user's own warning"]
            flat = r"the target is \(8,\), the output \(8, 1\)"
            with pytest.raises(SpecError, match=flat), broadcast_watch():
                nn.MSELoss()(torch.zeros(8, 1), torch.zeros(8))
            warnings.filterwarnings("ignore", message="Using a target size")
            with broadcast_watch():  # ignored by the user: their choice, no error
                nn.MSELoss()(torch.zeros(8, 1), torch.zeros(8))
    finally:
        warnings.showwarning = original
    assert len(shown) == 1


def test_a_tensor_lr_beside_a_groups_own_float_lr_is_set_group_by_group() -> None:
    """Adam(lr=torch.tensor(...)) with one group given its own float lr: each group's LR
    is set in its own kind (fill_ on a tensor, assignment on a float)."""
    model, loader, loss_fn = tiny.build()
    body, head = list(model.parameters())[:-1], list(model.parameters())[-1:]
    groups = [{"params": body}, {"params": head, "lr": 1e-2}]
    optimizer = torch.optim.Adam(groups, lr=torch.tensor(1e-3), foreach=False)
    result = find_lr(Task(model, loader, loss_fn, optimizer=optimizer), steps=8, device="cpu")
    assert len(result.history.losses) == 8 and result.training.ratios == pytest.approx([1, 10])
    assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)  # the user's, as it was
    assert optimizer.param_groups[0]["lr"].item() == pytest.approx(1e-3)


class _CentredLoss(nn.Module):
    """DINO-style: an EMA centre buffer updated in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(1))

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.center.mul_(0.9).add_(0.1 * out.detach().mean())
        return nn.functional.mse_loss(out - self.center, y)


def test_a_loss_with_state_is_copied_the_users_kept_and_each_sweep_starts_from_it() -> None:
    model, loader, _ = tiny.build()
    loss = _CentredLoss()
    first = find_lr(model, loader, loss, steps=12, device="cpu")
    assert loss.center.item() == 0.0  # the user's buffer, untouched
    again = find_lr(model, loader, loss, steps=12, device="cpu")
    assert again.history.losses == first.history.losses  # same seed, same curve


def test_a_weighted_loss_goes_to_the_sweeps_device() -> None:
    """CrossEntropyLoss(weight=...) built on the CPU must meet the logits where they are."""
    from lrfind.sweep.copy_setup import loss_copy

    loss = nn.CrossEntropyLoss(weight=torch.ones(3))
    task = loss_copy(
        Task(nn.Linear(2, 3), [(torch.zeros(1, 2), torch.zeros(1).long())], loss),
        torch.device("meta"),
    )
    assert task.loss_fn is not loss and task.loss_fn.weight.device.type == "meta"
    assert loss.weight.device.type == "cpu"
    plain = nn.CrossEntropyLoss()  # no state: nothing to copy
    assert (
        loss_copy(dataclasses.replace(task, loss_fn=plain), torch.device("meta")).loss_fn is plain
    )


def test_nll_loss_on_raw_logits_is_named() -> None:
    """NLLLoss takes log-probabilities; on logits it falls below 0 without bound."""
    x, y = tiny._data(64)
    classes = (y > y.median()).long()
    loader = torch.utils.data.DataLoader(list(zip(x, classes, strict=True)), batch_size=16)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    with pytest.raises(SpecError, match=r"NLLLoss went below 0 from step \d+ .*log_softmax") as e:
        find_lr(model, loader, nn.NLLLoss(), steps=30, diverge_threshold=NEVER)
    kept = e.value.history  # the curve is kept, as a failed sweep's (no suggestion)
    assert e.value.exit_code == 2 and len(kept.losses) == 30 and kept.stop_reason == "error"
    proper = nn.Sequential(model, nn.LogSoftmax(dim=1))
    fine = find_lr(proper, loader, nn.NLLLoss(), steps=30, diverge_threshold=NEVER)
    assert not any("NLLLoss" in w for w in fine.warnings)


def test_an_optimizer_with_a_scheduler_steps_the_copy_not_the_users() -> None:
    """An LR scheduler wraps optimizer.step in an instance attribute that calls the optimizer
    it was built on: copied, it stepped the user's optimizer and model, and never the copy."""
    model, loader, loss = tiny.build()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = next(iter(loader))
    loss(model(x), y).backward()
    optimizer.step()  # a notebook after one training step: state, and grads left on
    plain = copy.deepcopy(optimizer.state_dict())
    torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1)  # wraps optimizer.step
    before, steps = _snapshot(model), float(optimizer.state_dict()["state"][0]["step"])
    settings = {"steps": 20, "end_lr": 1e-2, "diverge_threshold": NEVER}
    scheduled = find_lr(model, loader, loss, optimizer=optimizer, **settings)
    _assert_same(model, before)
    assert float(optimizer.state_dict()["state"][0]["step"]) == steps
    reference = torch.optim.AdamW(model.parameters(), lr=1e-3)
    reference.load_state_dict(plain)
    unscheduled = find_lr(model, loader, loss, optimizer=reference, **settings)
    assert scheduled.history.losses == unscheduled.history.losses  # the copy trained
    assert scheduled.training is not None and unscheduled.training is not None
    assert any(n.startswith("an LR scheduler is built on") for n in scheduled.training.notes)
    assert not any("LR scheduler" in n for n in unscheduled.training.notes)


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_a_scheduler_that_cycles_momentum_is_swept_at_its_peak_momentum(kind) -> None:
    """OneCycleLR writes its max_momentum (the top of its cycle) into the groups when built;
    at the peak LR, where the suggestion goes, it runs at base_momentum: the sweep runs there,
    equal to an optimizer built with that momentum, and the user's optimizer keeps its own."""
    model, loader, loss = tiny.build()
    make = {
        "sgd": lambda params, m: torch.optim.SGD(params, lr=1e-2, momentum=m),
        "adamw": lambda params, m: torch.optim.AdamW(params, lr=1e-3, betas=(m, 0.999)),
    }[kind]
    optimizer = make(model.parameters(), 0.9)
    torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=100, base_momentum=0.5, max_momentum=0.99
    )
    settings = {"steps": 20, "end_lr": 1e-2, "diverge_threshold": NEVER}
    cycled = find_lr(model, loader, loss, optimizer=optimizer, **settings)
    at_base = find_lr(model, loader, loss, optimizer=make(model.parameters(), 0.5), **settings)
    assert cycled.history.losses == at_base.history.losses
    group = optimizer.param_groups[0]
    assert (group["momentum"] if kind == "sgd" else group["betas"][0]) == 0.99  # the user's
    assert cycled.training is not None
    what = "momentum" if kind == "sgd" else "beta1"
    assert any(
        n.startswith(f"the LR scheduler built on the optimizer cycles its {what} between 0.5 at")
        and "the sweep runs at 0.5, where the suggested LR goes, not at the 0.99" in n
        for n in cycled.training.notes
    )


def test_a_cycling_scheduler_over_groups_of_different_momenta_names_each_group() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    groups = [{"params": model[0].parameters()}, {"params": model[2].parameters()}]
    optimizer = torch.optim.SGD(groups, lr=1e-2, momentum=0.9)
    torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=100, base_momentum=[0.85, 0.4], max_momentum=[0.85, 0.6]
    )
    _, loader, loss = tiny.build()
    result = find_lr(model, loader, loss, optimizer=optimizer, steps=10, device="cpu")
    assert result.training is not None
    said = [n for n in result.training.notes if "cycle_momentum=True" in n]
    assert said and said[0].endswith(
        "the sweep runs each group at it: group 1 at 0.4 (it held 0.6); build the scheduler "
        "with cycle_momentum=False to sweep the optimizer's own"
    )  # group 0 did not move


def test_gradient_hooks_on_parameters_reach_the_copy_and_step_hooks_are_named() -> None:
    """A gradient mask on a parameter is part of the training; deepcopy drops it."""
    seen: list[int] = []
    model, loader, loss = tiny.build()
    mask = torch.zeros_like(model[0].weight)
    mask[0] = 1.0  # only row 0 of the first layer trains
    model[0].weight.register_hook(lambda grad: grad * mask)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.register_step_post_hook(lambda *args: seen.append(1))
    task = Task(model, loader, loss, optimizer=optimizer)
    copy_, optimizer_ = prepare(task, SweepConfig(), torch.device("cpu"))
    before = copy_[0].weight.detach().clone()
    x, y = next(iter(loader))
    loss(copy_(x), y).backward()
    optimizer_.step()
    moved = (copy_[0].weight.detach() != before).any(dim=1).tolist()
    assert moved == [True] + [False] * (len(moved) - 1)  # every row moved, before
    result = find_lr(task, steps=6, end_lr=1e-3)
    assert seen == [] and result.training is not None
    assert any("step hooks (0 pre, 1 post) are not run" in n for n in result.training.notes)
