"""Train the digits MLP for real and log its train and val loss per epoch, as a CSV.

A loss log for `lrfind diagnose` and `lrfind schedule plateau --plateau-losses`.
It trains on only 300 of the 1,797 digits (the rest is the validation set), so
that a good LR soon overfits; a much higher or lower LR shows the other classes:

    python sample_models/digits_train_log.py --lr 0.1 --out digits_log.csv
    lrfind diagnose digits_log.csv
"""

from __future__ import annotations

import argparse
import csv

import torch
from digits_mlp import build  # the same model and data as `lrfind run`
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    """Train with SGD (momentum 0.9) at --lr for --epochs; write epoch,train_loss,val_loss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", default="digits_log.csv")
    args = parser.parse_args()

    torch.manual_seed(0)
    model, loader, loss_fn = build()
    inputs, targets = loader.dataset.tensors  # type: ignore[attr-defined]
    train = DataLoader(TensorDataset(inputs[:300], targets[:300]), batch_size=32, shuffle=True)
    val_x, val_y = inputs[300:], targets[300:]
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    rows = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for x, y in train:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(val_x), val_y).item()
        rows.append((epoch, total / 300, val))
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "train_loss", "val_loss"])
        writer.writerows((e, f"{t:.6g}", f"{v:.6g}") for e, t, v in rows)
    print(f"wrote {args.out}: {args.epochs} epochs at lr {args.lr}")


if __name__ == "__main__":
    main()
