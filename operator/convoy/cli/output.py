"""`-o json|yaml`: print the objects themselves, for scripts, instead of the tree or the table."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml
from rich.console import Console, RenderableType
from rich.measure import Measurement

FORMATS = ("json", "yaml")


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, help="print the object(s) as json or yaml")


def print_object(console: Console, obj: Any, fmt: str) -> None:
    text = json.dumps(obj, indent=2) if fmt == "json" else yaml.safe_dump(obj, sort_keys=False).rstrip("\n")
    console.out(text, highlight=False)


def print_wide(console: Console, renderable: RenderableType) -> None:
    """Print without truncating: a table wider than the terminal overflows it, as kubectl's do, so that scripts
    and `grep` see whole names."""
    needed = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(renderable)
    finally:
        console.width = width
