"""A LightningModule returned by build, taken as it is (issue 14), with the real library.

No Lightning Trainer is fit: training_step is the loss, configure_optimizers the
optimizer, a datamodule or the module's hooks the data. lightning is in the dev extra.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("lightning", reason="lightning is in the dev extra")

from stacks import pl_datamodule, pl_forms

from lrfind import SpecError, find_lr
from lrfind.cli import app
from lrfind.config.settings import SweepConfig
from lrfind.sweep.adapters.base import with_stack_settings
from lrfind.sweep.groups import group_ratios
from lrfind.sweep.optim import prepare
from lrfind.sweep.task import task_from_build

ROOT = Path(__file__).parents[1]
CPU = torch.device("cpu")
FAST = {"steps": 8, "device": "cpu", "end_lr": 1e-4}  # no divergence: all 8 steps run

# Every form configure_optimizers may take; each builds AdamW over two groups, the head at 10x.
FORMS = [
    "optimizer",
    "list",
    "tuple_of_lists",
    "tuple_list_and_scheduler",
    "dict",
    "dict_scheduler",
    "dict_scheduler_config",
    "list_of_dicts",
]

SCHEDULED = {
    "tuple_of_lists",
    "tuple_list_and_scheduler",
    "dict_scheduler",
    "dict_scheduler_config",
}


@pytest.mark.parametrize("form", FORMS)
def test_every_optimizer_form_keeps_the_group_ratios(form: str) -> None:
    task = task_from_build(pl_forms.build(form), form)
    model, optimizer = prepare(task, SweepConfig(), CPU)
    assert type(optimizer).__name__ == "AdamW"
    # The warmup schedulers set every lr to 0 when built: the ratio comes from initial_lr.
    assert group_ratios(optimizer) == pytest.approx([1.0, 10.0])
    owned = {id(p) for p in model.parameters()}
    assert all(id(p) in owned for g in optimizer.param_groups for p in g["params"])
    aside = task.stack.set_aside
    assert any(a.startswith("lr_scheduler LambdaLR") for a in aside) == (form in SCHEDULED)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ("two_optimizers", "returned 2 optimizers"),
        ("none", "returned None"),
        ("needs_trainer", "uses self.trainer"),
        ("plain_tuple", "which Lightning does not accept"),
    ],
)
def test_forms_that_cannot_work_are_spec_errors(form: str, message: str) -> None:
    task = task_from_build(pl_forms.build(form), form)
    with pytest.raises(SpecError, match=message):
        prepare(task, SweepConfig(), CPU)


def test_manual_optimisation_is_a_spec_error_naming_step_fn() -> None:
    with pytest.raises(SpecError, match="automatic_optimization = False.*step_fn"):
        task_from_build(pl_forms.build_manual(), "build_manual()")


@pytest.mark.parametrize("build", ["build_dict_loss", "build_no_batch_idx"])
def test_training_step_forms(build: str) -> None:
    module = getattr(pl_forms, build)()
    result = find_lr(module, **FAST)
    assert result.steps_run > 0 and result.training is not None
    assert result.training.stack == "LightningModule"


def test_self_log_is_harmless_and_the_module_untouched() -> None:
    module = pl_forms.build("dict_scheduler")
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Lightning warns on self.log without a Trainer
        result = find_lr(module, **FAST)
    assert result.steps_run == 8
    assert "log" not in vars(module)  # only the sweep's copy had its log replaced
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())


def test_validation_step_with_val_batches() -> None:
    result = find_lr(pl_forms.build("optimizer"), val_batches=1, **FAST)
    assert result.loss_source == "validation (1 batch)"
    assert "validation_step and val_dataloader() (with --val-batches K or --refine)" in (
        result.training.took
    )


def test_validation_step_that_only_logs() -> None:
    class LogsOnly(pl_forms.FormModule):
        def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y))

    result = find_lr(LogsOnly(), val_batches=1, **FAST)
    assert result.steps_run == 8 and result.loss_source == "validation (1 batch)"


def test_the_validation_loss_is_what_validation_step_logged_not_training_step() -> None:
    # training_step logs train_loss (FormModule does); a validation_step that logs another
    # name with "loss" in it is read by that name, and one that logs no loss is an error,
    # not the training step's last logged value.
    class SlashName(pl_forms.FormModule):
        def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            self.log("val/loss", torch.nn.functional.cross_entropy(self(x), y))
            self.log("val/acc", 0.5)

    result = find_lr(SlashName(), val_batches=1, **FAST)
    assert result.steps_run == 8 and result.loss_source == "validation (1 batch)"

    class NoLoss(pl_forms.FormModule):
        def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            self.log("val_acc", 0.5)

    with pytest.raises(SpecError, match="validation_step returned None and logged val_acc: "):
        find_lr(NoLoss(), val_batches=1, **FAST)


@pytest.mark.parametrize("build", ["build", "build_legacy"])
def test_datamodule_in_both_packages(build: str) -> None:
    if build == "build_legacy":
        pytest.importorskip("pytorch_lightning", reason="the legacy package comes with lightning")
    module, data = getattr(pl_datamodule, build)()
    task = task_from_build((module, data), build)
    assert task.stack.name == "LightningModule" and task.stack.eval_loader is not None
    prepare(task, SweepConfig(), CPU)  # in the sweep (its seeded block), as fit() starts
    assert data.prepared and data.train is not None  # prepare_data and setup ran, as in fit


def test_the_lightning_trainer_gives_clipping_and_accumulation() -> None:
    task = task_from_build(pl_datamodule.build_with_trainer(), "build_with_trainer()")
    config, _ = with_stack_settings(SweepConfig(), task, set())
    assert (config.clip_grad, config.clip_mode, config.accumulate) == (0.5, "norm", 2)
    config, _ = with_stack_settings(SweepConfig(clip_grad=2.0), task, {"clip_grad"})
    assert config.clip_grad == 2.0


def test_clipping_off_or_given_says_what_became_of_the_trainers_algorithm() -> None:
    task = task_from_build(pl_datamodule.build_with_trainer(), "build_with_trainer()")
    off, _ = with_stack_settings(SweepConfig(clip_grad=0.0), task, {"clip_grad"})
    took, aside = task.stack.applied(off)
    assert not any("gradient_clip_algorithm" in x for x in took + aside)  # nothing clips
    given, _ = with_stack_settings(SweepConfig(clip_grad=2.0), task, {"clip_grad"})
    took, aside = task.stack.applied(given)
    assert "gradient_clip_algorithm norm" in took  # the default mode the clip_grad keeps


def test_find_lr_takes_the_lightning_trainer_in_loss_fns_place() -> None:
    # find_lr(module, data, trainer), as Lightning's own Tuner is handed them.
    module, data, trainer = pl_datamodule.build_with_trainer()
    result = find_lr(module, data, trainer, **FAST)
    assert (result.config.clip_grad, result.config.accumulate) == (0.5, 2)
    loader = data.train_dataloader()  # a plain loader in the datamodule's place
    result = find_lr(module, loader, trainer, **FAST)
    assert (result.config.clip_grad, result.config.accumulate) == (0.5, 2)


def test_a_find_lr_stack_error_says_given_not_returned() -> None:
    import lightning.pytorch as pl

    class NoData(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: torch.Tensor) -> torch.Tensor:
            return self.layer(batch).mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters())

    trainer = pl_datamodule.build_with_trainer()[2]
    with pytest.raises(SpecError, match=r"^find_lr was given NoData, but NoData has no train_"):
        find_lr(NoData(), trainer, **FAST)


def test_a_module_with_its_own_hooks_through_the_cli(tmp_path: Path) -> None:
    # The (module, datamodule) form runs in test_samples.py.
    spec = f"{ROOT / 'sample_models' / 'lightning_module.py'}:build_hooks"
    args = ["run", spec, "--steps", "20", "--no-plot", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Swept: AdamW" in result.stdout and "(configure_optimizers)" in result.stdout
    assert "lr_scheduler CosineAnnealingLR (interval step)" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["training"]["stack"] == "LightningModule" and report["steps_run"] > 10


def test_loop_hooks_are_named_as_set_aside() -> None:
    t = find_lr(pl_forms.build_hooked(), **FAST).training  # on_after_backward would raise
    assert t is not None
    assert "on_fit_start, on_after_backward (hooks of Lightning's loop, which never runs)" in (
        t.set_aside
    )


def test_a_setup_that_needs_the_trainer_names_the_fix() -> None:
    with pytest.raises(SpecError, match=r"HookedModule.setup\(\) uses self.trainer.*make it work"):
        find_lr(pl_forms.build_setup_needs_trainer(), **FAST)


def test_module_train_and_val_loaders_as_fit_takes_them() -> None:
    # It was "returned two train loaders with the LightningModule: give one".
    result = find_lr(pl_forms.build_train_and_val_loaders(), val_batches=2, **FAST)
    assert result.loss_source == "validation (2 batches)"
    assert "the train loader given" in result.training.took
    # The val loader build returned, not val_dataloader(), which the module does not have.
    said = "validation_step and the val loader given (with --val-batches K or --refine)"
    assert said in result.training.took


def test_a_finetuning_callback_freezes_the_copy_as_fit_would() -> None:
    """BackboneFinetuning freezes `backbone` as fit() starts, before configure_optimizers."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import BackboneFinetuning

    class WithBackbone(pl_forms.FormModule):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = self.body  # the name BackboneFinetuning freezes

        def configure_optimizers(self) -> torch.optim.Optimizer:
            trainable = [p for p in self.parameters() if p.requires_grad]
            return torch.optim.AdamW(trainable, lr=1e-3)

    module = WithBackbone()
    trainer = pl.Trainer(
        callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=10)],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    result = find_lr(module, module.train_dataloader(), trainer, **FAST)
    assert result.training is not None
    assert "BackboneFinetuning's freeze_before_training" in ", ".join(result.training.took)
    assert [g.params for g in result.training.groups] == [2]  # the head's weight and bias
    assert all(p.requires_grad for p in module.parameters())  # the user's module: untouched


def test_a_frozen_submodule_keeps_its_eval_mode_as_fit_keeps_it() -> None:
    """Lightning's fit() leaves the modes as the user set them (#18951): so does the sweep,
    and its validation passes put them back as they were."""

    seen: list[tuple[bool, bool]] = []  # outside the module: the sweep's copy appends too

    class Frozen(pl_forms.FormModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.BatchNorm1d(32))
            self.body.requires_grad_(False)
            self.body.eval()

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            seen.append((self.head.training, self.body[1].training))
            return super().training_step(batch, batch_idx)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.head.parameters(), lr=1e-3)

    module = Frozen()
    result = find_lr(module, module.train_dataloader(), val_batches=2, **FAST)
    assert result.steps_run == 8
    assert seen == [(True, False)] * 8  # the body's BatchNorm stayed in eval, as in fit()
    assert not module.body.training and module.head.training  # the user's: untouched


def test_a_finetuning_callback_from_configure_callbacks_freezes_the_copy() -> None:
    from lightning.pytorch.callbacks import BackboneFinetuning

    class Configured(pl_forms.FormModule):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = self.body

        def configure_callbacks(self) -> list[Any]:
            return [BackboneFinetuning(unfreeze_backbone_at_epoch=10)]

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-3)

    module = Configured()
    result = find_lr(module, module.train_dataloader(), **FAST)
    assert result.training is not None
    assert [g.params for g in result.training.groups] == [2]  # the backbone was frozen
    assert "configure_callbacks()'s callbacks (only a fine-tuning freeze runs)" in (
        result.training.set_aside
    )
    assert all(p.requires_grad for p in module.parameters())


def _trainer(**settings: Any) -> Any:
    import lightning.pytorch as pl

    quiet = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
    return pl.Trainer(accelerator="cpu", enable_model_summary=False, **quiet, **settings)


def test_a_gradient_accumulation_scheduler_accumulates_as_fit_starts() -> None:
    """Trainer(callbacks=[GradientAccumulationScheduler]) is Lightning's other spelling of
    accumulate_grad_batches (which then stays 1): fit() accumulates epoch 0's factor from its
    first step, and so does the sweep; --accumulate still wins."""
    from lightning.pytorch.callbacks import GradientAccumulationScheduler

    calls: list[int] = []

    class Counted(pl_forms.FormModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            calls.append(batch_idx)
            return super().training_step(batch, batch_idx)

    module = Counted()
    trainer = _trainer(callbacks=[GradientAccumulationScheduler({0: 4, 5: 2})])
    result = find_lr(module, module.train_dataloader(), trainer, **FAST)
    assert result.config.accumulate == 4 and len(calls) == 4 * 8
    assert result.training is not None
    assert "GradientAccumulationScheduler 4 at epoch 0" in result.training.took
    assert (
        "GradientAccumulationScheduler's later factors (2 from epoch 5: the sweep is epoch 0)"
        in (result.training.set_aside)
    )
    given = find_lr(module, module.train_dataloader(), trainer, accumulate=2, **FAST)
    assert given.config.accumulate == 2 and given.training is not None
    assert "GradientAccumulationScheduler 4 at epoch 0 (accumulate = 2 given)" in (
        given.training.set_aside
    )


def _splitting_datamodule() -> Any:
    """A datamodule whose setup draws its split from torch's RNG (random_split), numpy and
    random, as many do, and whose train_dataloader shuffles with its own generator."""
    import random

    import lightning.pytorch as pl
    import numpy as np
    from torch.utils.data import DataLoader, random_split

    class Splitting(pl.LightningDataModule):
        def __init__(self) -> None:
            super().__init__()
            self.generator = torch.Generator().manual_seed(7)

        def setup(self, stage: str | None = None) -> None:
            data = pl_datamodule._dataset(96, seed=0)
            self.train, self.val = random_split(data, [80, 16])
            np.random.rand()
            random.random()

        def train_dataloader(self) -> DataLoader:
            return DataLoader(self.train, batch_size=8, shuffle=True, generator=self.generator)

    return Splitting()


def test_a_datamodules_setup_leaves_the_callers_rngs_and_its_split_follows_the_seed() -> None:
    import random

    import numpy as np

    module, data = pl_datamodule.build()[0], _splitting_datamodule()
    torch.manual_seed(123)
    np.random.seed(1)
    random.seed(2)
    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    find_lr(module, data, **FAST)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert (np.random.get_state()[1] == before[1]).all()
    assert random.getstate() == before[2]
    split = list(data.train.indices)
    find_lr(module, data, **FAST)  # a new find_lr sets the datamodule up again, as fit() does
    assert list(data.train.indices) == split
    find_lr(module, data, seed=1, **FAST)
    assert list(data.train.indices) != split


def test_a_loader_made_in_the_sweep_has_its_generator_seeded_and_put_back() -> None:
    """A datamodule's or the module's train_dataloader() with its own torch.Generator gets
    what a DataLoader passed in gets: seeded with the seed, the user's generator put back."""
    module, data = pl_datamodule.build()[0], _splitting_datamodule()
    state = data.generator.get_state()
    first = find_lr(module, data, **FAST)
    assert torch.equal(data.generator.get_state(), state)  # the user's generator: as it was
    assert find_lr(module, data, **FAST).history.losses == first.history.losses


def test_the_modules_own_loader_follows_the_seed() -> None:
    """The copy's train_dataloader() shuffles with the copy's generator: --seed and --repeats
    must reorder it, as they do a DataLoader passed in."""

    class OwnGenerator(pl_forms.FormModule):
        def __init__(self) -> None:
            super().__init__()
            self.generator = torch.Generator().manual_seed(7)

        def train_dataloader(self) -> Any:
            from torch.utils.data import DataLoader

            dataset = pl_datamodule._dataset(256, seed=0)
            return DataLoader(dataset, batch_size=32, shuffle=True, generator=self.generator)

    own = OwnGenerator()
    zero, one = find_lr(own, **FAST), find_lr(own, seed=1, **FAST)
    assert zero.history.losses != one.history.losses  # --seed reorders the copy's loader
    assert find_lr(own, **FAST).history.losses == zero.history.losses


@pytest.mark.parametrize(
    ("precision", "said"),
    [
        ("64-true", "precision 64-true (the sweep runs in the module's dtype: .double() it)"),
        ("bf16-true", "precision bf16-true (the sweep runs in float32; --amp bf16 autocasts)"),
    ],
)
def test_a_precision_the_sweep_does_not_take_is_set_aside_with_the_fix_that_fits(
    precision: str, said: str
) -> None:
    from types import SimpleNamespace

    from lrfind.sweep.adapters.base import Stack
    from lrfind.sweep.adapters.lightning_trainer import trainer_settings

    stack = Stack(name="LightningModule")
    trainer = SimpleNamespace(precision=precision, callbacks=[], accumulate_grad_batches=1)
    assert "amp" not in trainer_settings(trainer, stack) and said in stack.set_aside
