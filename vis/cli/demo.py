"""`vis demo`: train the digits CNN and write every figure (see `vis.demo.run_demo`)."""

from __future__ import annotations

import argparse

from vis.cli._paths import check_out_dir
from vis.cli._registry import load_methods

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Runs `vis demo`.

    Args:
        args: The parsed arguments (`out`, `fast`, `seed`, `quiet`).

    Returns:
        The exit status, 0.

    Raises:
        UsageError: If `--out` cannot be a folder.
    """
    check_out_dir(args.out)
    load_methods(args)  # TensorFlow (quietly) and the --import modules: the demo runs them all
    from vis.demo import run_demo

    run_demo(args.out, fast=args.fast, seed=args.seed, verbose=not args.quiet)
    return 0
