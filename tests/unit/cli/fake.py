"""A cluster in memory and an Env around it, at the fixed time NOW with a clock that sleeping advances."""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console

from convoy.cli.env import Env
from convoy.cli.errors import CliError, NotFound
from convoy.cli.main import main

from .states import NOW

Body = dict[str, Any]


@dataclass
class FakeCluster:
    namespace: str = "shop"
    objects: dict[tuple[str, str, str], list[Body]] = field(default_factory=dict)
    created: list[tuple[str, Body]] = field(default_factory=list)
    patches: list[tuple[str, str, list[Body]]] = field(default_factory=list)
    refusal: str | None = None

    def add(self, plural: str, *versions: Body) -> None:
        """`versions` are what successive reads return (the last one from then on), as a run moves on."""
        meta = versions[0]["metadata"]
        self.objects[(plural, meta.get("namespace", self.namespace), meta["name"])] = [*versions]

    def get(self, plural: str, name: str, namespace: str | None = None) -> Body:
        versions = self.objects.get((plural, namespace or self.namespace, name))
        if not versions:
            raise NotFound(f"{plural} {name} not found")
        return copy.deepcopy(versions.pop(0) if len(versions) > 1 else versions[0])

    def list_objects(self, plural: str, *, all_namespaces: bool = False) -> list[Body]:
        return [
            copy.deepcopy(v[0])
            for (p, ns, _), v in self.objects.items()
            if p == plural and (all_namespaces or ns == self.namespace)
        ]

    def create(self, plural: str, body: Body) -> Body:
        if self.refusal:
            raise CliError(self.refusal)
        made = copy.deepcopy(body)
        meta = made["metadata"]
        meta.setdefault("name", meta.get("generateName", "") + "x7k2p")
        meta["namespace"] = self.namespace
        self.created.append((plural, made))
        if (plural, self.namespace, meta["name"]) not in self.objects:
            self.add(plural, made)
        return made

    def patch(self, plural: str, name: str, ops: list[Body]) -> Body:
        if self.refusal:
            raise CliError(self.refusal)
        self.patches.append((plural, name, ops))
        return self.get(plural, name)

    def server_version(self) -> str:
        return "v1.36.3"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Result:
    code: int
    out: str
    err: str


def invoke(cluster: FakeCluster, argv: Sequence[str], capsys: Any) -> Result:
    """Run `kubectl convoy ARGV` against `cluster`; what it printed, without colors."""
    buffer, clock = io.StringIO(), Clock()
    console = Console(file=buffer, color_system=None, width=100, highlight=False)
    env = Env(connect=lambda: cluster, out=console, clock=clock, sleep=clock.sleep)
    try:
        code = main(list(argv), env)
    except SystemExit as exited:  # argparse's usage errors
        code = int(exited.code or 0)
    return Result(code, buffer.getvalue(), capsys.readouterr().err)
