"""A transformers.Trainer returned by build, taken as it is (issue 14), with the real library.

Tiny BERT/GPT-2 configs with random weights (tests/assets/stacks, sample_models):
nothing is downloaded. transformers and accelerate come with the dev extra.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("transformers", reason="transformers is in the dev extra")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate (in the dev extra)")

from stacks import trainer_groups

from lrfind import SpecError, find_lr
from lrfind.cli import app
from lrfind.config.settings import SweepConfig
from lrfind.sweep.adapters.base import with_stack_settings
from lrfind.sweep.batch import step_loss
from lrfind.sweep.groups import group_ratios
from lrfind.sweep.loaders import cycle
from lrfind.sweep.optim import prepare
from lrfind.sweep.task import Task, task_from_build

ROOT = Path(__file__).parents[1]
CPU = torch.device("cpu")
FAST = {"steps": 12, "device": "cpu"}


def _task(name: str):  # type: ignore[no-untyped-def]
    return task_from_build(getattr(trainer_groups, name)(), name)


def test_the_trainer_gives_its_groups_clipping_accumulation_and_loss() -> None:
    trainer = trainer_groups.build()
    params = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = find_lr(trainer, **FAST)
    t = result.training
    assert t is not None and t.stack == "transformers.Trainer" and t.optimizer == "AdamW"
    assert t.hyper.get("fused") is True  # adamw_torch_fused, the Trainer's default
    assert [g.weight_decay for g in t.groups] == [0.01, 0.0] and t.ratios == [1.0, 1.0]
    assert (t.clip_grad, t.clip_mode, t.accumulate) == (0.5, "norm", 2)
    assert {"compute_loss", "label_smoothing_factor 0.1", "max_grad_norm 0.5"} <= set(t.took)
    assert "lr_scheduler_type cosine" in t.set_aside and "warmup_steps 10" in t.set_aside
    assert result.config.clip_grad == 0.5 and result.config.accumulate == 2
    # The user's Trainer and model are as they were: no optimizer made, no weight moved,
    # no loader left registered on its accelerator (get_train_dataloader's prepare()).
    assert trainer.optimizer is None
    assert getattr(trainer.accelerator, "_dataloaders", []) == []
    assert all(torch.equal(v, params[k]) for k, v in trainer.model.state_dict().items())


def test_find_lrs_own_optimizer_and_val_loader_win_over_the_trainers() -> None:
    # As its settings do: given with a Trainer, they are used (they were silently dropped).
    import functools

    from lrfind import ConfigError

    sgd = functools.partial(torch.optim.SGD, momentum=0.9)
    t = find_lr(trainer_groups.build(), optimizer=sgd, **FAST).training
    assert t is not None and t.optimizer == "SGD" and t.origin == "given to find_lr"
    assert "the transformers.Trainer's optimizer (find_lr was given one)" in t.set_aside
    trainer = trainer_groups.build()
    instance = torch.optim.SGD(trainer.model.parameters(), lr=0.1)
    assert find_lr(trainer, optimizer=instance, **FAST).training.optimizer == "SGD"
    val = trainer.get_eval_dataloader() if trainer.eval_dataset is not None else None
    val = val or trainer.get_train_dataloader()
    assert find_lr(trainer_groups.build(), val_loader=val, **FAST).loss_source == "validation"
    with pytest.raises(ConfigError, match="step_fn= with a transformers.Trainer"):
        find_lr(trainer_groups.build(), step_fn=lambda model, batch: model(**batch).loss)


def test_the_swept_line_names_where_the_trainers_optimizer_came_from() -> None:
    # optim= is what the base Trainer's create_optimizer reads; a subclass's own, or
    # optimizer_cls_and_kwargs, leave it unused, so it is not named then.
    default = find_lr(trainer_groups.build_defaults(), **FAST).training
    assert default is not None and default.origin.startswith(
        "the Trainer's create_optimizer, optim=adamw_torch"
    )
    own = find_lr(trainer_groups.build_subclass(), **FAST).training
    assert own is not None and own.origin == "the HeadTrainer's create_optimizer"
    trainer = trainer_groups.build_defaults()
    trainer.optimizer_cls_and_kwargs = (torch.optim.SGD, {"momentum": 0.9})
    given = find_lr(trainer, **FAST).training
    assert given is not None and given.optimizer == "SGD"
    assert given.origin.endswith("create_optimizer, optimizer_cls_and_kwargs=(SGD)")


def test_val_batches_without_an_eval_dataset_names_the_trainers_fix() -> None:
    from lrfind import UsageError

    trainer = trainer_groups.build_defaults()
    trainer.eval_dataset = None
    with pytest.raises(UsageError, match="none: give the Trainer an eval_dataset, or drop"):
        find_lr(trainer, val_batches=2, **FAST)


def test_the_command_line_wins_over_the_trainer() -> None:
    result = find_lr(trainer_groups.build(), clip_grad=0.0, accumulate=1, **FAST)
    t = result.training
    assert t is not None and t.clip_grad is None and t.accumulate == 1
    assert "max_grad_norm 0.5 (clip_grad = 0.0 given)" in t.set_aside


def test_create_optimizer_runs_on_the_copy_with_the_subclass_overrides() -> None:
    task = _task("build_subclass")  # a HeadTrainer: its own compute_loss and head at 10x
    model, optimizer = prepare(task, SweepConfig(), CPU)
    owned = {id(p) for p in model.parameters()}
    assert all(id(p) in owned for g in optimizer.param_groups for p in g["params"])
    assert group_ratios(optimizer) == pytest.approx([1.0, 10.0])


def test_a_create_optimizer_that_only_sets_self_optimizer_is_taken() -> None:
    """transformers ignores create_optimizer's return value: an override that assigns
    self.optimizer and returns None trains with Trainer.train(), and so sweeps."""

    class AssignOnly(trainer_groups.HeadTrainer):
        def create_optimizer(self, model=None):  # type: ignore[no-untyped-def]
            super().create_optimizer(model)  # sets self.optimizer; nothing returned

    trainer = trainer_groups.build_subclass()
    trainer.__class__ = AssignOnly
    result = find_lr(trainer, **FAST)
    assert result.training is not None and result.training.ratios == pytest.approx([1.0, 10.0])
    assert trainer.optimizer is None  # built on the copy's shadow, not on the user's Trainer


def test_an_accelerated_optimizer_between_micro_batches_still_steps() -> None:
    """accelerate's optimizer steps only when sync_gradients; copied mid-accumulation (a
    notebook, two micro-batches in) its copy never would: the sweep steps the one inside."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from torch.optim.optimizer import register_optimizer_step_post_hook as step_post_hook

    try:
        acc = Accelerator(gradient_accumulation_steps=4, cpu=True)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        x = torch.randn(64, 4)
        loader = torch.utils.data.DataLoader(list(zip(x, x[:, :1], strict=True)), batch_size=8)
        model, opt = acc.prepare(model, torch.optim.SGD(model.parameters(), lr=0.01))
        for xb, yb in list(loader)[:2]:
            with acc.accumulate(model):
                acc.backward(torch.nn.functional.mse_loss(model(xb), yb))
                opt.step()
                opt.zero_grad()
        assert not acc.sync_gradients
        steps: list[int] = []
        hook = step_post_hook(lambda *_: steps.append(1))  # every optimizer's steps
        try:
            result = find_lr(model, loader, torch.nn.MSELoss(), optimizer=opt, steps=12)
        finally:
            hook.remove()
        assert len(steps) == 12  # every step of the sweep stepped its SGD
        assert result.training.notes == [
            "swept the SGD inside the AcceleratedOptimizer (lrfind accumulates and casts itself); "
            "the Accelerator accumulates 4 micro-batches: pass --accumulate 4"
        ]
    finally:  # accelerate's state is a process-wide singleton: leave none for later tests
        AcceleratorState._reset_state(True)
        GradientState._reset_state()


def test_the_trainers_clipping_is_over_the_whole_model_as_train_clips() -> None:
    """Trainer.train() clips model.parameters(), also those its optimizer does not hold (a
    head-only optimizer beside a trainable body): the sweep's norm is the same one."""
    from transformers import Trainer

    from lrfind.sweep.step import Stepper

    model = trainer_groups._model()
    head = torch.optim.AdamW(model.classifier.parameters(), lr=1e-3)
    args = trainer_groups._args(max_grad_norm=0.05)
    data = trainer_groups._examples(32, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, optimizers=(head, None))
    task = task_from_build(trainer, "build")
    config, task = with_stack_settings(SweepConfig(), task, set())
    stepper = Stepper(task, config, CPU)
    clipped = stepper.clip.args[0]  # type: ignore[union-attr]
    assert (
        len(clipped) == len(list(stepper.model.parameters())) > len(head.param_groups[0]["params"])
    )


def test_the_took_and_set_aside_lines_name_what_the_trainer_uses() -> None:
    """A scheduler in optimizers=(...) replaces lr_scheduler_type and its warmup (warmup_steps
    was listed as set aside too); compute_loss_func is named where compute_loss uses it."""
    from transformers import Trainer

    model = trainer_groups._model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    def loss_func(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        return torch.nn.functional.cross_entropy(outputs.logits, labels)

    trainer = Trainer(model=model, args=trainer_groups._args(warmup_steps=5),
                      train_dataset=trainer_groups._examples(32, seed=0),
                      optimizers=(optimizer, scheduler), compute_loss_func=loss_func)  # fmt: skip
    t = find_lr(trainer, **FAST).training
    assert t is not None and t.set_aside[0] == "the scheduler in optimizers=(LambdaLR)"
    assert not any("warmup" in x for x in t.set_aside)
    assert "compute_loss with compute_loss_func" in t.took


def test_optimizers_given_to_the_trainer_are_swept_as_they_are() -> None:
    result = find_lr(trainer_groups.build_given_optimizer(), **FAST)
    assert result.training is not None and result.training.optimizer == "SGD"
    assert result.training.hyper["momentum"] == 0.9 and not result.training.default
    assert result.config.clip_grad == 1.0  # the default TrainingArguments clip at 1.0


def test_sgd_and_bf16_settings() -> None:
    config, task = with_stack_settings(SweepConfig(), _task("build_sgd"), set())
    assert config.clip_grad is None  # max_grad_norm 0: the Trainer does not clip
    _, optimizer = prepare(task, config, CPU)
    assert type(optimizer).__name__ == "SGD" and optimizer.defaults["momentum"] == 0.9
    config, _ = with_stack_settings(SweepConfig(), _task("build_bf16"), set())
    assert config.amp == "bf16"


def test_no_train_dataset_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="without a train_dataset"):
        _task("build_no_dataset")


def test_batches_without_labels_are_a_spec_error_naming_the_fix() -> None:
    # The Trainer raises ValueError("The model did not return a loss ...") at step 1.
    with pytest.raises(SpecError, match="returned no loss from a batch of input_ids, attention"):
        find_lr(_task("build_no_labels"), **FAST)


def test_the_loader_is_made_in_each_sweep_and_reshuffled_each_pass() -> None:
    """accelerate's sampler takes its seed when the loader is made: lrfind makes it per sweep."""
    task = _task("build")

    def first_labels(seed: int, passes: int = 2) -> list[list[int]]:
        torch.manual_seed(seed)
        task.stack.start_sweep()
        batches = cycle(task.train_loader)
        n = 64 // 8
        return [[int(next(batches)["input_ids"][0, 0]) for _ in range(n)] for _ in range(passes)]

    # Compare orders by the first token of each batch's first example, over a whole pass.
    a, b = first_labels(0), first_labels(1)
    assert a == first_labels(0)  # the same seed: the same order
    assert a != b  # another seed (another repeat): another order
    assert a[0] != a[1]  # the second pass is a new epoch, not the first one again


def test_a_trainer_through_the_cli(tmp_path: Path) -> None:
    spec = f"{ROOT / 'tests' / 'assets' / 'stacks' / 'trainer_groups.py'}:build"
    args = ["run", spec, "--steps", "20", "--no-plot", "--out-dir", str(tmp_path), "--device"]
    result = CliRunner().invoke(app, [*args, "cpu"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    swept = next(line for line in lines if line.startswith("Swept: "))
    assert swept.startswith("Swept: AdamW(") and "the Trainer's create_optimizer" in swept
    assert "weight decay 0.01 / 0; gradients clipped at norm 0.5; 2 micro-batches" in swept
    assert any(line.startswith("From the transformers.Trainer: model,") for line in lines)
    assert "Set aside (a range test sets its own LR): lr_scheduler_type cosine" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["training"]["stack"] == "transformers.Trainer"
    assert report["config"]["clip_grad"] == 0.5 and report["config"]["accumulate"] == 2
    assert [g["weight_decay"] for g in report["training"]["param_groups"]] == [0.01, 0.0]


def test_trainer_eval_data_with_val_batches(tmp_path: Path) -> None:
    spec = f"{ROOT / 'tests' / 'assets' / 'stacks' / 'trainer_groups.py'}:build_defaults"
    args = ["run", spec, "--steps", "8", "--val-batches", "1", "--json", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--no-plot"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["loss_source"] == "validation (1 batch)"


def test_a_model_output_gives_its_logits_to_loss_fn() -> None:
    from stacks import hf_output

    model, loader, loss_fn = hf_output.build_label_smoothing()
    result = find_lr(copy.deepcopy(model), loader, loss_fn, **FAST)
    assert result.training is not None
    assert result.training.notes == [
        "the model returns a SequenceClassifierOutput: its .logits go to loss_fn"
    ]
    # The loss is the user's loss_fn on the logits (label smoothing 0.2), not the model's .loss.
    model.eval()
    batch = next(iter(loader))
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        got = step_loss(Task(model, loader, loss_fn))(model, batch)
        out = model(**inputs)
    assert got.item() == pytest.approx(loss_fn(out.logits, batch["labels"]).item())
    assert got.item() != pytest.approx(model(**batch).loss.item())


def test_a_trainer_in_a_tuple_is_told_to_come_alone() -> None:
    trainer = trainer_groups.build_defaults()
    with pytest.raises(SpecError, match="return the transformers Trainer alone"):
        task_from_build((trainer, trainer.get_train_dataloader()), "build() in m.py")


def test_compute_loss_through_self_model_sweeps_the_copy_and_training_step_is_set_aside() -> None:
    trainer = trainer_groups.build_self_model()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    t = find_lr(trainer, **FAST).training  # it was exit 2: "the loss used the model build()..."
    assert t is not None
    assert "SelfModelTrainer.training_step (the sweep steps with compute_loss)" in t.set_aside
    assert all(p.grad is None for p in trainer.model.parameters())
    assert all(torch.equal(v, before[k]) for k, v in trainer.model.state_dict().items())


def test_a_dict_of_eval_datasets_gives_its_first_and_the_users_callbacks_are_named() -> None:
    trainer = trainer_groups.build_eval_dict_and_callback()
    result = find_lr(trainer, val_batches=2, **FAST)  # it was "KeyError: 0"
    t = result.training
    assert t is not None and result.loss_source == "validation (2 batches)"
    assert any(x.startswith("get_eval_dataloader('near'), the first of 2") for x in t.took)
    assert "callbacks (FreezeCallback): the sweep runs no Trainer events" in t.set_aside
