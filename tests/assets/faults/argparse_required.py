"""(b) a training script whose module-level parser has a required argument: under lrfind
it cannot parse (sys.argv is the file alone), and argparse exits with its usage."""

import argparse

from faultkit import build

parser = argparse.ArgumentParser(description="train my model")
parser.add_argument("--data", required=True)
args = parser.parse_args()

__all__ = ["build"]
