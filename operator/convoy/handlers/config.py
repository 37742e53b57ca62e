"""How the operator process was started: set once by `convoy.main` before kopf runs the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()
    webhook_host: str | None = "127.0.0.1"
    webhook_addr: str = "127.0.0.1"
    webhook_port: int = 9443
    webhook_certs: Path = field(default_factory=lambda: Path("/tmp/convoy-webhook"))
    webhook_certfile: Path | None = None
    webhook_keyfile: Path | None = None
    metrics_port: int = 8080
    peering_lifetime: int = 60
    highly_available: bool = False
    log_json: bool = False
    seal_key: Path | None = None
    """The seal key file (adapters/seals.py); None: `seal.key` beside the webhook certificates, made if absent."""
    default_service_account: str = "convoy-runner"
    """The ServiceAccount a Workflow or Pipeline without `serviceAccountName` acts as, in its own namespace."""
    max_progressing_runs: int = 0
    """How many runs may change workloads at once in the whole cluster (0: no limit); the others wait, in order."""
    max_progressing_runs_per_namespace: int = 0
    """The same limit, per namespace."""


current = OperatorConfig()
