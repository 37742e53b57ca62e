"""Live pages: Kubernetes watches, made as the caller, that tell a page's stream when to build the page again.

The plugin's client is synchronous, so each watch runs in a thread of its own (never in the event loop, nor in
the loop's small default executor, which the page builds need) and reports to the loop through `changed`. A watch
ends by itself after WATCH_SECONDS and starts again from the last version it saw, so a stopped one is gone within
that time without a way to interrupt a blocking read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from convoy.cli.env import Body, Cluster
from convoy.cli.errors import CliError

WATCH_SECONDS = 30
RETRY_SECONDS = 5.0


class Watching(Cluster, Protocol):
    """A cluster seen as the caller, which can also watch (convoy.cli.kube.KubeCluster)."""

    def watch(
        self,
        plural: str,
        namespace: str | None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        seconds: int = WATCH_SECONDS,
    ) -> Iterator[tuple[str, Body]]: ...


Connect = Callable[[str | None], Watching]
"""The caller's connection acting in a namespace (None: the one of -n or the kubeconfig)."""


@dataclass(frozen=True)
class Scope:
    """What one watch follows: objects of `plural` in `namespace` (None: every namespace), narrowed by selectors."""

    plural: str
    namespace: str | None
    field_selector: str | None = None
    label_selector: str | None = None


class Watches:
    """One thread per scope a page depends on; `changed` is called from those threads on every event and
    whenever `problem` (why a watch failed, as the plugin says it) changes."""

    def __init__(self, cluster: Watching, changed: Callable[[], None]) -> None:
        self._cluster = cluster
        self._changed = changed
        self._running: dict[Scope, threading.Event] = {}
        self._problems: dict[Scope, str] = {}

    @property
    def problem(self) -> str:
        return "; ".join(sorted(set(self._problems.values())))

    def keep(self, scopes: Iterable[Scope]) -> None:
        """Watch exactly `scopes` from now on."""
        wanted = set(scopes)
        for scope in set(self._running) - wanted:
            self._running.pop(scope).set()
            self._problems.pop(scope, None)
        for scope in wanted - set(self._running):
            stop = threading.Event()
            self._running[scope] = stop
            threading.Thread(target=self._follow, args=(scope, stop), daemon=True, name=f"watch {scope}").start()

    def close(self) -> None:
        self.keep(())

    def _follow(self, scope: Scope, stop: threading.Event) -> None:
        version: str | None = None
        while not stop.is_set():
            try:
                for kind, obj in self._cluster.watch(
                    scope.plural,
                    scope.namespace,
                    field_selector=scope.field_selector,
                    label_selector=scope.label_selector,
                    resource_version=version,
                ):
                    if stop.is_set():
                        return
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if self._problems.pop(scope, None) is not None or kind != "BOOKMARK":
                        self._changed()
            except CliError as error:
                if version is not None:  # most likely expired: start again from what exists now
                    version = None
                    continue
                if self._problems.get(scope) != error.message:
                    self._problems[scope] = error.message
                    self._changed()
                stop.wait(RETRY_SECONDS)
