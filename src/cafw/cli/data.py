"""``cafw data``: dataset utilities: fetch a dataset (``download``), or write a small copy of
it in its real on-disk format (``write``, what a rehearsal trains on instead)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("data", help="dataset utilities: download one, or write a small "
                                         "copy in its on-disk format (rehearsals)")
    p.add_argument("action", choices=["download", "write"])
    p.add_argument("name")
    p.add_argument("--root", type=Path, default=Path("data"))
    p.add_argument("--train-images", type=int, help="write: training images")
    p.add_argument("--test-images", type=int, help="write: test images")
    p.add_argument("--classes", type=int, help="write: ImageNet's classes (CIFAR's are fixed)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from ..data import download, write_small
    from ..errors import ConfigError
    from ..vocabulary import DATASETS

    if args.action == "download":
        download(args.name, args.root)
        print(f"{args.name} is ready under {args.root}")
        return 0
    if args.train_images is None or args.test_images is None:
        raise ConfigError("cafw data write: give --train-images and --test-images")
    folder = write_small(args.name, args.root, train_images=args.train_images,
                         test_images=args.test_images, classes=args.classes)
    print(f"wrote a small {DATASETS[args.name].title} ({args.train_images} training and "
          f"{args.test_images} test images) under {folder} in its on-disk format, instead of "
          "downloading or checking the real one\nchecksums: skipped; published checksums "
          "describe the real files, not this copy (runs read a small CIFAR with "
          "dataset_options.checksums: skip)")
    return 0
