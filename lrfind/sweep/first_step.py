"""The first step's checks: the gradients went where the sweep needs them.

Run once, on the first step only, around its backward(): none before it (a backward the
user's own code ran), none on the user's model (a loss that closes over it), none on
parameters outside the copy (a head a step_fn applies beside it), and some on what the
optimizer holds (a loss that does not depend on it).
"""

from __future__ import annotations

import torch
from torch import nn

from lrfind.errors import SpecError
from lrfind.sweep.mistakes import OWN_BACKWARD


def check_first_loss(model: nn.Module) -> None:
    """After the first loss, before lrfind's backward(): no gradient may exist yet.

    The step starts with the gradients zeroed (set to None by torch's
    optimizers), so a nonzero one now comes from a backward() that the user's
    own step_fn (or loss) ran. Checked once, on the first step only.
    """
    if any(p.grad is not None and bool(p.grad.count_nonzero()) for p in model.parameters()):
        raise SpecError(OWN_BACKWARD)


Grads = list[tuple[torch.Tensor, torch.Tensor | None]]


def user_grads(model: nn.Module) -> Grads:
    """The gradients of the model build() returned, before the first step (copies)."""
    return [(p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]


def check_untouched(before: Grads) -> None:
    """After the first backward(): the user's own model must have got no gradient.

    A loss_fn or step_fn that closes over the model build() returned computes on it, not
    on the copy the sweep steps: the user's model would collect gradients for every step
    and the curve would not be the copy's. Its gradients are put back, then it is named.
    """
    touched = False
    for p, grad in before:
        now = p.grad
        if (grad is None) != (now is None) or (grad is not None and not torch.equal(grad, now)):
            touched = True
            p.grad = grad
    if touched:
        raise SpecError(
            "the loss used the model build() returned, not the copy lrfind sweeps (a loss_fn "
            "or step_fn that closes over it): compute the loss from the model step_fn is "
            "given, step_fn(model, batch), or from the output loss_fn is given"
        )


def check_outside(loss: torch.Tensor, model: nn.Module, users: nn.Module) -> None:
    """At the first loss: no parameter outside the copy (nor the user's model, which
    check_untouched names) may feed it, such as a head a step_fn applies beside the model:
    it would gather the user's gradients all sweep long and never train."""
    known = {id(p) for m in (model, users) for p in m.parameters()}
    seen, todo, outside = set(), [loss.grad_fn], []
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        leaf = getattr(node, "variable", None)
        if isinstance(leaf, nn.Parameter) and id(leaf) not in known:
            outside.append(leaf)
        todo.extend(f for f, _ in node.next_functions)
    if outside:
        shapes = ", ".join(str(list(p.shape)) for p in outside[:3])
        raise SpecError(
            f"the loss depends on {len(outside)} parameters outside the model ({shapes}), "
            "such as a head step_fn applies beside it: they would never train and keep "
            "gathering gradients; make them part of the model build returns"
        )


def check_gradients(optimizer: torch.optim.Optimizer) -> None:
    """After the first backward(): some parameter the optimizer holds must have a gradient.

    When none has, the loss does not depend on the parameters the sweep steps, so every
    LR gives the same curve and its "suggestion" would be noise. Checked on the first step.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if params and all(p.grad is None for p in params):
        raise SpecError(
            "no parameter the optimizer holds got a gradient from the loss: it does not depend "
            "on them (a detached output, .item(), torch.no_grad(), or a loss of other tensors); "
            "make loss_fn (or step_fn) compute the loss from the model's output"
        )
