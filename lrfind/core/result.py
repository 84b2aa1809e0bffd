"""SweepResult: a finished range test, its suggestions and what to watch out for."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

from lrfind.config.settings import SweepConfig
from lrfind.core.caveats import between_points, curve_warnings, lowered_stop, nan_before_descent
from lrfind.core.history import History, StopReason
from lrfind.core.plan import DEFAULT_TOTAL_STEPS, SchedulePlan, plan
from lrfind.core.refinement import Refinement
from lrfind.core.repeats import RepeatRun, Repeats, median_lr, spread_decades
from lrfind.core.robust_suggest import NO_CURVE, RERUN, RobustAnswer, robust_answer
from lrfind.core.stopping import robust_rule
from lrfind.core.suggest import Suggestion, curve_minimum, nearest_index, suggest_all
from lrfind.core.training import Training
from lrfind.core.uncertainty import Uncertainty, assess, with_rule
from lrfind.errors import ConfigError


@dataclass(frozen=True, repr=False)  # the default repr would print every step of the curve
class SweepResult:
    """Everything a range test produced; what the report, plot and table show.

    Attributes:
        history: LR, raw loss and smoothed loss per step, and the stop reason.
        suggestions: every method's Suggestion, by name.
        method: the headline method (config.method).
        warnings: plain-language caveats, e.g. "raise --end-lr".
        config: the settings the sweep ran with.
        device: where it ran, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)".
        sweep_s: wall time of the sweep itself.
        loss_source: "train", or "validation" when a val_loader was given
            ("validation (K batches)" with val_batches).
        repeats: with --repeats R > 1, every repeat, the median and its spread;
            the history is then the repeat nearest the median.
        refinement: with --refine, its probes; the suggestion is then the LR they chose.
    """

    history: History
    suggestions: dict[str, Suggestion]
    method: str
    warnings: list[str]
    config: SweepConfig
    device: str = "cpu"
    sweep_s: float = 0.0
    loss_source: str = "train"
    min_index: int | None = field(default=None)
    repeats: Repeats | None = None
    refinement: Refinement | None = None

    def __repr__(self) -> str:
        """One line, e.g. SweepResult(suggested_lr=0.0123, method='robust', ... steps_run=87)."""
        lr = self.suggested_lr
        return (
            f"SweepResult(suggested_lr={lr if lr is None else float(f'{lr:.4g}')}, "
            f"method={self.method!r}, confidence={self.uncertainty.confidence!r}, "
            f"stop_reason={self.stop_reason!r}, steps_run={self.steps_run}, "
            f"optimizer={self.optimizer!r}, device={self.device!r})"
        )

    @property
    def suggestion(self) -> Suggestion:
        """The headline method's suggestion."""
        return self.suggestions[self.method]

    @cached_property
    def robust(self) -> RobustAnswer:
        """The robust rule on this history: the "robust" method, its bounds and confidence."""
        return _robust(self.history, self.config)

    @cached_property
    def uncertainty(self) -> Uncertainty:
        """How sure the headline suggestion is: near-minimum range, cost of a decade, confidence."""
        h = self.history
        u = assess(h.lrs, h.smoothed, self.suggestions, h.stop_reason, self.method)
        rule = self.robust if self.method == "robust" else None
        return with_rule(u, rule, self.suggested_lr, self.repeats)

    @property
    def suggested_lr(self) -> float | None:
        return self.suggestion.lr

    @property
    def lr_at_min_loss(self) -> float | None:
        return None if self.min_index is None else self.history.lrs[self.min_index]

    @property
    def min_smoothed_loss(self) -> float | None:
        return None if self.min_index is None else self.history.smoothed[self.min_index]

    @property
    def stop_reason(self) -> StopReason:
        return self.history.stop_reason

    @property
    def stopped_early(self) -> bool:
        return self.history.stop_reason != "completed"

    @property
    def steps_run(self) -> int:
        return self.history.steps_run

    @property
    def optimizer(self) -> str:
        """The torch.optim class that drove the sweep, e.g. "AdamW"."""
        return self.history.optimizer

    @property
    def training(self) -> Training | None:
        """How the sweep trained: optimizer and param groups, clipping, precision, the stack."""
        return self.history.training

    def schedules(self, total_steps: int = DEFAULT_TOTAL_STEPS) -> SchedulePlan | None:
        """One-cycle, cyclic and warmup + cosine schedules for a run of `total_steps`.

        None when there is no suggestion or the loss never falls; ConfigError for a
        `total_steps` that is no integer >= 2. Example:
            >>> result.schedules(5000).schedules["one_cycle"].kwargs  # doctest: +SKIP
            {'max_lr': 0.089, 'total_steps': 5000, 'div_factor': 29.6, ...}
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 2:
            raise ConfigError(
                f"total_steps={total_steps!r}: must be an integer >= 2, the optimizer steps of "
                "the run the schedules are for"
            )
        bounds = None
        if self.method == "robust":  # where the robust curve starts and stops falling
            r = self.robust
            if r.falling_from is not None and r.falling_to is not None:
                bounds = (r.falling_from, r.falling_to)
        h = self.history
        ratios = None if h.training is None else h.training.ratios  # one LR per param group
        return plan(h.lrs, h.smoothed, self.suggested_lr, total_steps, bounds, ratios)


def analyse(
    history: History,
    config: SweepConfig,
    *,
    device: str = "cpu",
    sweep_s: float = 0.0,
    loss_source: str = "train",
) -> SweepResult:
    """Run every suggestion method over the history and collect warnings.

    Without smoothing, the history's smoothed curve becomes the robust curve (centred
    median + mean, no lag): the curve the default suggestion reads, and the one the
    other methods, the table and the plot show.
    """
    robust = _robust(history, config)
    if config.smoothing == 0:
        history = dataclasses.replace(history, smoothed=robust.curve)
    lrs = history.lrs
    reason = None if robust.lr is not None else robust.reasons[0]
    suggestions = {
        "robust": Suggestion("robust", robust.lr, _nearest(lrs, robust.lr), reason),
        **suggest_all(lrs, history.smoothed),
    }
    if history.stop_reason == "error":  # a curve cut short by a failure supports no suggestion
        why = f"the sweep failed at step {history.steps_run + 1}"
        suggestions = {name: Suggestion(name, None, reason=why) for name in suggestions}
    min_index = curve_minimum(lrs, history.smoothed)
    if config.method == "robust" and robust.min_index is not None:
        min_index = robust.min_index
    result = SweepResult(
        history=history,
        suggestions=suggestions,
        method=config.method,
        warnings=[
            *history.warnings,
            *curve_warnings(
                history,
                min_index,
                config.steps,
                ratio_stop=config.diverge_threshold is not None,
                advised=config.method == "robust" and robust.lr is None,
                linear=config.mode == "linear",
                lowered=lowered_stop(config),
            ),
        ],
        config=config,
        device=device,
        sweep_s=sweep_s,
        loss_source=loss_source,
        min_index=min_index,
    )
    return _unusable(_seeded(result, robust))


def _seeded(result: SweepResult, robust: RobustAnswer) -> SweepResult:
    """`result` with its cached `robust` set to the answer analyse already has (the history's
    raw losses and stop are the same, so replaying the rule again would give the same)."""
    result.__dict__["robust"] = robust
    return result


def _unusable(result: SweepResult) -> SweepResult:
    """No suggestion where the confidence says there is no usable curve (a failed sweep)."""
    u = result.uncertainty
    if result.suggested_lr is None or not any(r.startswith(NO_CURVE) for r in u.reasons):
        return result
    why = next(r for r in u.reasons if r.startswith(NO_CURVE))
    interrupted = result.stop_reason == "interrupted"
    if RERUN not in why and (interrupted or "--steps" not in why):  # else why has its fix
        why += f": {RERUN if interrupted else 'run more --steps, or widen --start-lr/--end-lr'}"
    name = result.method
    suggestions = {**result.suggestions, name: Suggestion(name, None, reason=why)}
    return _seeded(dataclasses.replace(result, suggestions=suggestions), result.robust)


def _robust(history: History, config: SweepConfig) -> RobustAnswer:
    h = history
    smoothed = None if config.smoothing == 0 else h.smoothed  # --smoothing: read the EMA
    rule = robust_rule(config)
    answer = robust_answer(h.lrs, h.losses, h.stop_reason, rule, smoothed)
    return between_points(nan_before_descent(answer, h, config.steps, rule.lo_snr), h.lrs)


def _nearest(lrs: list[float], lr: float | None) -> int | None:
    return None if lr is None else nearest_index(lrs, lr)


def combine(runs: list[SweepResult], config: SweepConfig) -> SweepResult:
    """One result from --repeats: every method's median, the curve of the repeat nearest it."""
    headline = [r.suggestions[config.method].lr for r in runs]
    median = median_lr(headline)
    spread = spread_decades(headline)
    # The repeat nearest the median; repeats without a suggestion (None) are never it.
    shown = 0 if median is None else nearest_index(headline, median) or 0
    base = runs[shown]
    suggestions = {}
    for name, own in base.suggestions.items():
        lr = median_lr([r.suggestions[name].lr for r in runs])
        if lr is None:
            suggestions[name] = Suggestion(name, None, reason=own.reason or "no repeat gave one")
        else:
            suggestions[name] = Suggestion(name, lr, nearest_index(base.history.lrs, lr))
    records = [
        RepeatRun(
            seed=r.config.seed,
            suggested_lr=r.suggested_lr,
            suggestions={name: s.lr for name, s in r.suggestions.items()},
            history=r.history,
            min_loss=r.min_smoothed_loss,
            min_lr=r.lr_at_min_loss,
        )
        for r in runs
    ]
    repeats = Repeats(records, median, *(spread or (None, None)), shown=shown)
    return dataclasses.replace(
        base,
        suggestions=suggestions,
        config=config,
        sweep_s=sum(r.sweep_s for r in runs),
        repeats=repeats,
    )
