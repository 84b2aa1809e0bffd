"""Detection models: train-mode forward(images, targets) returns a dict of losses (issue 14).

Batches are (images, targets) with images a tuple of 3xHxW tensors and targets a
tuple of {"boxes", "labels"} dicts (torchvision's detection convention, via
collate_fn=lambda b: tuple(zip(*b))). lrfind today treats them as (inputs,
targets) pairs and asks for a loss_fn, which cannot work; the sum of the loss
dict is the loss. Generated images: one bright box each.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Boxes(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    def __init__(self, n: int = 32, size: int = 64, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            image = torch.rand(3, size, size, generator=g) * 0.2
            x0, y0 = torch.randint(0, size // 2, (2,), generator=g).tolist()
            w, h = torch.randint(size // 8, size // 2, (2,), generator=g).tolist()
            label = int(torch.randint(1, 3, (1,), generator=g))
            image[label - 1, y0 : y0 + h, x0 : x0 + w] = 1.0
            box = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float32)
            self.items.append((image, {"boxes": box, "labels": torch.tensor([label])}))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.items[i]


def collate(batch: list[Any]) -> tuple[Any, ...]:
    return tuple(zip(*batch, strict=True))


def _loader(batch_size: int = 4, size: int = 64) -> DataLoader:
    return DataLoader(Boxes(size=size), batch_size=batch_size, shuffle=True, collate_fn=collate)


def tiny_faster_rcnn(num_classes: int = 3) -> nn.Module:
    """A Faster R-CNN with a two-conv backbone: ~0.1 s a step on one CPU core."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    backbone = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
    )  # fmt: skip
    backbone.out_channels = 16  # type: ignore[assignment]
    return FasterRCNN(
        backbone,
        rpn_anchor_generator=AnchorGenerator(sizes=((16, 32),), aspect_ratios=((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(16 * 7 * 7, 64),
        box_predictor=FastRCNNPredictor(64, num_classes),
        min_size=64, max_size=64,
        rpn_pre_nms_top_n_train=100, rpn_post_nms_top_n_train=50, box_batch_size_per_image=32,
    )  # fmt: skip


def detection_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """The step_fn a user writes today: the sum of the loss dict."""
    images, targets = batch
    return sum(model(list(images), list(targets)).values())  # type: ignore[return-value]


def build() -> tuple[nn.Module, DataLoader]:
    """(model, loader) as a torchvision user has them (fails today: 'no loss_fn')."""
    return tiny_faster_rcnn(), _loader()


def build_step_fn() -> dict[str, Any]:
    """The same with the step_fn glue (works today)."""
    return {"model": tiny_faster_rcnn(), "train_loader": _loader(), "step_fn": detection_loss}


def build_mobilenet() -> tuple[nn.Module, DataLoader]:
    """torchvision's fasterrcnn_mobilenet_v3_large_320_fpn (weights=None, weights_backbone=None),
    resized to 64 px: 19M parameters, over a second a step on one core (a slow test)."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    model = fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=3, min_size=64, max_size=64,
        rpn_pre_nms_top_n_train=100, rpn_post_nms_top_n_train=50, box_batch_size_per_image=32,
    )  # fmt: skip
    return model, _loader(batch_size=2)
