"""Following an object until its status.phase is final (`run --wait`, `rollback --wait`): a line whenever it
moves on, and a timeout. Polls rather than watches: a CI job gains nothing from a stream, and a poll survives
API server restarts and dropped connections without extra code."""

from __future__ import annotations

import re
from datetime import timedelta

from convoy.api.common import DURATION, seconds
from convoy.cli.env import Body, Cluster, Env
from convoy.cli.errors import TIMEOUT, CliError, UsageError

POLL_SECONDS = 2.0
RUN_RESULTS = {"Succeeded": 0, "Failed": 1, "RolledBack": 1, "Aborted": 1}
ROLLBACK_RESULTS = {"Succeeded": 0, "Failed": 1, "Refused": 1}


def parse_timeout(text: str) -> float:
    if not re.fullmatch(DURATION, text):
        raise UsageError(f"--timeout '{text}' is not a duration: write it like '90s', '30m' or '1h'")
    return seconds(text)


def progress(obj: Body) -> str:
    """One line: where the object stands, and what its current step says. Pure."""
    status: Body = obj.get("status") or {}
    where = "/".join(p for p in (status.get("currentPhase"), status.get("currentStep")) if p)
    message = _current_step_message(status) or status.get("message")
    line = f"{obj['metadata']['name']}: {status.get('phase') or 'Pending'}"
    return line + (f" at {where}" if where else "") + (f": {message}" if message else "")


def _current_step_message(status: Body) -> str | None:
    if status.get("phase") in RUN_RESULTS:
        return None
    for phase in (*status.get("phases", []), *status.get("rollback", [])):
        if phase.get("name") == status.get("currentPhase"):
            for step in phase.get("steps") or []:
                if step.get("name") == status.get("currentStep") and step.get("message"):
                    return str(step["message"])
    return None


def follow(
    cluster: Cluster, plural: str, name: str, env: Env, *, timeout: float, results: dict[str, int], quiet: bool = False
) -> Body:
    """The object once its phase is one of `results`; raises CliError(TIMEOUT) after `timeout` seconds."""
    deadline = env.clock() + timedelta(seconds=timeout)
    last = None
    while True:
        obj = cluster.get(plural, name)
        line = progress(obj)
        if line != last and not quiet:
            env.out.out(line, highlight=False)
        last = line
        phase = (obj.get("status") or {}).get("phase")
        if phase in results:
            return obj
        if env.clock() >= deadline:
            raise CliError(f"timed out after {timeout:g}s waiting for {name}: it is {phase or 'Pending'}", TIMEOUT)
        env.sleep(POLL_SECONDS)
