"""(b) a training script that parses sys.argv at module level, not under
`if __name__ == "__main__":`: under lrfind, sys.argv is lrfind's command line."""

import argparse

from faultkit import build

parser = argparse.ArgumentParser(description="train my model")
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

__all__ = ["build"]
