"""The dashboard's buttons: each does what its `kubectl convoy` verb does, through the same functions and as the
caller, and answers with what the plugin would print: its line, or its one-line `error: ...`."""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from convoy.cli import decide, rollback
from convoy.cli.dashboard.live import Connect
from convoy.cli.env import Env
from convoy.cli.errors import CliError, UsageError

KINDS = {"workflowrun": "wfr", "pipelinerun": "plr"}
VERBS = (*decide.VERBS, "rollback")


class BadRequest(ValueError):
    """The page sent something no button sends."""


def perform(connect: Connect, request: Mapping[str, Any]) -> tuple[bool, str]:
    """Carry out `request` ({verb, kind, namespace, name}, and a step or stage) as the caller: whether the cluster
    took it, and the plugin's line for it."""
    verb, kind, namespace, name = (_text(request, key) for key in ("verb", "kind", "namespace", "name"))
    about = {key: _text(request, key) for key in ("step", "stage", "reason") if request.get(key) is not None}
    if verb not in VERBS or kind not in KINDS or not namespace or not name:
        raise BadRequest(f"no such action: {verb} {kind} {namespace}/{name}")
    try:
        cluster = connect(namespace)
        if verb == "rollback":
            if kind != "workflowrun":
                raise UsageError("rollback is for workflow runs and workflows")
            created = rollback.create(cluster, f"wfr/{name}", force=False, reason=about.get("reason"))
            return True, f"rollback/{created['metadata']['name']} created"
        out = io.StringIO()
        env = Env(
            connect=lambda: cluster,
            out=Console(file=out, color_system=None, width=1000, highlight=False),
            clock=lambda: datetime.now(UTC),
            sleep=time.sleep,
        )
        action, _ = decide.VERBS[verb]
        new = decide.decision(action, step=about.get("step"), stage=about.get("stage"), reason=about.get("reason"))
        decide.send(env, f"{KINDS[kind]}/{name}", new)
        return True, out.getvalue().strip()
    except CliError as error:
        return False, f"error: {error.message}"


def _text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value
