"""The benchmark's floor: the plain PyTorch training loop a user would write.

It trains a deep copy of a model for N steps at given LRs and does nothing
else: no smoothing, no stop rule, the losses kept on the device and read once
at the end. It never imports lrfind. benchmarks/speed.py imports `bare_loop`
as the in-process floor of the sweep, and runs this file as a script as the
floor of `lrfind run` (the same build and steps in a plain Python process):

    python benchmarks/bare_loop.py sample_models/digits_mlp.py 89 --device cpu
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch


def bare_loop(
    model: torch.nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    optimizer: Callable[..., torch.optim.Optimizer] | None,
    device: torch.device,
    lrs: list[float],
    feature: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a copy of `model` for len(lrs) steps; return its timings and losses.

    `feature` holds lrfind's option names (amp, accumulate, compile,
    channels_last), done here the way a hand-written loop does them.
    Returns whole_s (copy, optimizer, compile warm-up and loop), loop_s (the
    steps and the final read of the losses) and losses (one per step).
    """
    feature = feature or {}
    accumulate = feature.get("accumulate", 1)
    channels_last = feature.get("channels_last", False)
    start = time.perf_counter()
    model = copy.deepcopy(model).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = (optimizer or _sgd)(model.parameters())
    amp = feature.get("amp")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp or "")
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else None
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    loader = _pinned(loader, device)
    if feature.get("compile"):
        model = torch.compile(model)
        with autocast or contextlib.nullcontext():
            _loss(model, _to(next(iter(loader)), device, channels_last), loss_fn).backward()
        model.zero_grad(set_to_none=True)
    batches = _forever(loader)
    losses = []
    _sync(device)
    loop_start = time.perf_counter()
    for lr in lrs:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        total = None
        for _ in range(accumulate):
            batch = _to(next(batches), device, channels_last)
            if autocast is None:  # a loop without --amp enters no context at all
                loss = _loss(model, batch, loss_fn)
            else:
                with autocast:
                    loss = _loss(model, batch, loss_fn)
            if accumulate > 1:
                loss = loss / accumulate
            (loss if scaler is None else scaler.scale(loss)).backward()
            total = loss.detach() if total is None else total + loss.detach()
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()
        losses.append(total)
    values = torch.stack(losses).float().tolist()  # one read at the end, as a logging loop does
    end = time.perf_counter()
    return {"whole_s": end - start, "loop_s": end - loop_start, "losses": values}


def exp_lrs(start: float, end: float, steps: int) -> list[float]:
    """The sweep's exponential LR schedule, both ends included."""
    return [start * (end / start) ** (i / (steps - 1)) for i in range(steps)]


def load_build(path: str | Path) -> tuple[Any, ...]:
    """Import a sample file and call its build(); return (model, loader, loss_fn, optimizer)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    out = module.build()
    if isinstance(out, dict):
        return out["model"], out["train_loader"], out.get("loss_fn"), out.get("optimizer")
    model, loader, *rest = out
    return model, loader, (rest[0] if rest else None), None


def _sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=1e-7, momentum=0.9)  # lrfind's default optimizer


def _loss(model: torch.nn.Module, batch: Any, loss_fn: Any) -> torch.Tensor:
    if isinstance(batch, dict):
        return model(**batch).loss  # the model computes its loss (Hugging Face style)
    inputs, targets = batch
    return loss_fn(model(inputs), targets)


def _to(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    inputs, targets = batch
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)


def _pinned(loader: Any, device: torch.device) -> Any:
    """On CUDA, what DataLoader(..., pin_memory=True) in the user's code would give."""
    if device.type != "cuda" or not isinstance(loader, torch.utils.data.DataLoader):
        return loader
    pinned = copy.copy(loader)
    pinned.pin_memory = True
    return pinned


def _forever(loader: Iterable[Any]) -> Iterator[Any]:
    while True:
        yield from loader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description="A plain training loop over a sample model.")
    parser.add_argument("sample", help="path to a sample_models/*.py file")
    parser.add_argument("steps", type=int, help="optimizer steps to run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sweep-steps", type=int, default=100, help="the schedule's length")
    args = parser.parse_args()
    random.seed(0)
    torch.manual_seed(0)
    device = torch.device(args.device)
    lrs = exp_lrs(1e-7, 10.0, args.sweep_steps)[: args.steps]
    out = bare_loop(*load_build(args.sample), device, lrs)
    print(json.dumps({"whole_s": out["whole_s"], "loop_s": out["loop_s"]}))


if __name__ == "__main__":
    main()
