"""A fake API server as the transport of `kube.request`: it records every request the adapters send (method, path, query,
headers, body) and answers what the test scripted for it, so the adapters' HTTP is tested without a cluster."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from convoy.adapters import kube


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


Reply = tuple[int, Any]  # status, JSON body
Handler = Callable[[Sent], Reply]


def status(code: int, message: str = "refused") -> Reply:
    return code, {"kind": "Status", "status": "Failure", "code": code, "message": message}


class FakeApiServer:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.routes: list[tuple[str, str, Handler]] = []

    def on(self, method: str, path: str, handler: Handler | Reply) -> None:
        """Answer requests of `method` to `path` (a prefix when it ends with '*'); the newest route wins."""
        answer = handler if callable(handler) else (lambda _sent, reply=handler: reply)
        self.routes.insert(0, (method, path, answer))

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str], headers: Mapping[str, str], data: str | None
    ) -> kube.Answer:
        sent = Sent(method, path, dict(params), dict(headers), None if data is None else json.loads(data))
        self.sent.append(sent)
        for m, p, handler in self.routes:
            if m == method and (path == p or (p.endswith("*") and path.startswith(p[:-1]))):
                code, body = handler(sent)
                return kube.Answer(code, "Scripted", "" if body is None else json.dumps(body))
        code, body = status(404, f"nothing scripted for {method} {path}")
        return kube.Answer(code, "Not Found", json.dumps(body))

    async def close(self) -> None:
        pass


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    monkeypatch.setattr(kube, "_transport", server)
    yield server
