"""The `--smoke` option every benchmark takes: the same code on tiny data with few epochs, in
seconds to a minute or two, so that `.ci/run` can run every benchmark on each change and none
rots unseen. Its figures mean nothing; only that the script runs through."""

from __future__ import annotations

import argparse


def add_smoke(parser: argparse.ArgumentParser, **small: object) -> None:
    """Add `--smoke`: with it, `parse` sets each option in `small` to its tiny value."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run through on tiny data in seconds (what CI runs); the figures mean nothing",
    )
    parser.set_defaults(smoke_values=small)


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if args.smoke:
        for name, value in args.smoke_values.items():
            setattr(args, name, value)
    return args
