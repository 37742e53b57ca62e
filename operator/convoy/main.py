"""`convoy`: the operator process. Parses its flags, then hands the event loop to kopf."""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

# kopf imports the Kubernetes client libraries when they are installed (the plugin needs `kubernetes`), to log in
# through them and to recognise their model classes: tens of MiB of generated classes the operator never uses, as
# it speaks plain JSON (adapters/kube.py). Without them kopf logs in by itself, from the ServiceAccount or the
# kubeconfig, as the operator does.
for _library in ("kubernetes", "kubernetes_asyncio", "pykube"):
    sys.modules.setdefault(_library, None)  # type: ignore[arg-type]

import kopf  # noqa: E402

from convoy.handlers import config  # noqa: E402


def parse(argv: list[str] | None = None) -> tuple[config.OperatorConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="convoy", description="Run the Convoy operator.")
    parser.add_argument("-n", "--namespace", action="append", default=[], help="watch only these (repeatable)")
    parser.add_argument(
        "--webhook-host",
        default="127.0.0.1",
        help="host name or IP the API server calls the admission webhook at; 'none' disables it",
    )
    parser.add_argument("--webhook-addr", default="127.0.0.1", help="address the webhook listens on")
    parser.add_argument("--webhook-port", type=int, default=9443)
    parser.add_argument(
        "--webhook-certs",
        type=Path,
        default=Path("/tmp/convoy-webhook"),
        help="where the self-signed certificate is written",
    )
    parser.add_argument("--webhook-certfile", type=Path, help="serve this certificate instead (e.g. cert-manager)")
    parser.add_argument("--webhook-keyfile", type=Path)
    parser.add_argument("--metrics-port", type=int, default=8080, help="Prometheus metrics; 0 disables them")
    parser.add_argument("--peering", default=None, help="kopf peering name: replicas with one active (HA)")
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority; the highest active replica works, the others stand by (default: random, "
        "as replicas of equal priority would all pause)",
    )
    parser.add_argument(
        "--peering-lifetime",
        type=int,
        default=60,
        help="seconds a replica's peering keep-alive stays valid: a standby takes over at most this long after "
        "the active replica died",
    )
    parser.add_argument(
        "--seal-key-file",
        type=Path,
        default=None,
        help="the key that seals decisions, barrier marks and snapshots (default: seal.key in --webhook-certs, "
        "generated if absent); every replica must use the same one",
    )
    parser.add_argument(
        "--default-service-account",
        default="convoy-runner",
        help="the ServiceAccount a Workflow or Pipeline without spec.serviceAccountName acts as, in its namespace",
    )
    parser.add_argument(
        "--max-progressing-runs",
        type=int,
        default=0,
        help="how many WorkflowRuns may change workloads at once, cluster-wide (0: no limit); the others wait "
        "with their queue position and the reason in status",
    )
    parser.add_argument(
        "--max-progressing-runs-per-namespace",
        type=int,
        default=0,
        help="how many WorkflowRuns may change workloads at once in one namespace (0: no limit)",
    )
    parser.add_argument("--liveness", default=None, help="e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--log-format", choices=["plain", "json"], default="plain")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    cfg = config.OperatorConfig(
        namespaces=tuple(args.namespace),
        webhook_host=None if args.webhook_host == "none" else args.webhook_host,
        webhook_addr=args.webhook_addr,
        webhook_port=args.webhook_port,
        webhook_certs=args.webhook_certs,
        webhook_certfile=args.webhook_certfile,
        webhook_keyfile=args.webhook_keyfile,
        metrics_port=args.metrics_port,
        peering_lifetime=args.peering_lifetime,
        highly_available=args.peering is not None,
        log_json=args.log_format == "json",
        seal_key=args.seal_key_file,
        default_service_account=args.default_service_account,
        max_progressing_runs=max(args.max_progressing_runs, 0),
        max_progressing_runs_per_namespace=max(args.max_progressing_runs_per_namespace, 0),
    )
    return cfg, args


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse(argv)
    config.current = cfg
    import convoy.handlers.operator  # noqa: F401  (registers the handlers with kopf)
    from convoy.handlers import garbage

    garbage.tune()

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if cfg.log_json else kopf.LogFormat.PLAIN,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not args.verbose:  # kopf logs a line per watch event and handler ("Handler ... succeeded"): noise and CPU
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    kopf.run(
        clusterwide=not cfg.namespaces,
        namespaces=list(cfg.namespaces),
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=args.priority if args.priority is not None else random.randint(1, 2**31 - 1),
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
