"""`kubectl convoy lint FILE|DIR...`: what the cluster checks, offline, on every Convoy object in the manifests, in
the cluster's order: first the CRD's structural schema, as the API server does (types, enums, patterns, bounds,
required and unknown fields: `validation.schema_problems`), then, for an object that passes it, the admission
webhook's own validation (`validation.validate`). Other kinds are left alone."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from convoy.api.common import GROUP
from convoy.api.resources import BY_KIND
from convoy.api.validation import schema_problems, validate, without_nulls
from convoy.cli.env import Env
from convoy.cli.errors import FAILED, OK

SUFFIXES = (".yaml", ".yml")


class _Loader(yaml.SafeLoader):
    """YAML as kubectl sends it to the API server: an unquoted date stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "lint", parents=[common], help="validate Convoy manifests offline", description=__doc__
    )
    parser.add_argument("paths", metavar="FILE", nargs="+", help="a YAML file, or a directory of them")
    parser.set_defaults(command=lint)


def lint(args: argparse.Namespace, env: Env) -> int:
    problems, checked = [], 0
    for path in files(args.paths):
        found, count = lint_file(path)
        problems += found
        checked += count
    for problem in problems:
        env.out.out(problem, highlight=False)
    summary = f"{len(problems)} problem{'s' * (len(problems) != 1)}" if problems else "no problems"
    env.out.out(f"{checked} Convoy object{'s' * (checked != 1)} checked: {summary}", highlight=False)
    return FAILED if problems else OK


def files(paths: list[str]) -> Iterator[Path]:
    for text in paths:
        path = Path(text)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            yield path


def lint_file(path: Path) -> tuple[list[str], int]:
    try:
        text = path.read_text()
    except OSError as error:
        return [f"{path}: cannot read it: {error.strerror or error}"], 0
    return lint_text(str(path), text)


def lint_text(name: str, text: str) -> tuple[list[str], int]:
    """`file: Kind/name: path: message` for each problem, and how many Convoy objects were checked. Pure."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as error:
        return [f"{name}: not valid YAML: {' '.join(str(error).split())}"], 0
    problems, checked = [], 0
    for doc in documents:
        if not _is_convoy(doc):
            continue
        checked += 1
        kind, obj_name = doc.get("kind"), (doc.get("metadata") or {}).get("name", "<no name>")
        where = f"{name}: {kind}/{obj_name}"
        if kind not in BY_KIND:
            problems.append(f"{where}: kind: not a Convoy kind: use one of {', '.join(BY_KIND)}")
            continue
        # the API server refuses a schema violation before the webhook sees the object
        errors = schema_problems(kind, doc) or validate(kind, without_nulls(kind, doc))
        problems += [f"{where}: {error}" for error in errors]
    return problems, checked


def _is_convoy(doc: Any) -> bool:
    return isinstance(doc, dict) and str(doc.get("apiVersion", "")).split("/")[0] == GROUP
