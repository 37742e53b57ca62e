"""What a command needs from the outside world: the cluster, the terminal and the clock. `main` builds the real
ones; tests pass fakes, so every command runs without a cluster and at a fixed time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console

Body = dict[str, Any]


class Cluster(Protocol):
    """Convoy objects in one cluster, seen as one user. Errors are raised as CliError (NotFound for 404)."""

    @property
    def namespace(self) -> str:
        """The namespace of -n, else of the kubeconfig context, else 'default'."""

    def get(self, plural: str, name: str, namespace: str | None = None) -> Body: ...

    def list_objects(self, plural: str, *, all_namespaces: bool = False) -> list[Body]: ...

    def create(self, plural: str, body: Body) -> Body: ...

    def patch(self, plural: str, name: str, ops: list[Body]) -> Body:
        """Apply a JSON patch (RFC 6902)."""

    def server_version(self) -> str: ...


@dataclass(frozen=True)
class Env:
    connect: Callable[[], Cluster]
    out: Console
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
