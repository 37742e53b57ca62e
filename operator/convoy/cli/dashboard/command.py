"""`kubectl convoy dashboard [--port 3100] [--address 127.0.0.1] [-A]`: a web page of Workflows, runs, pipeline runs
and rollbacks, live, with buttons for the decisions, served on this machine and acting as the caller (the
kubeconfig, context and --as of the plugin's other commands), like `kubectl argo rollouts dashboard`."""

from __future__ import annotations

import argparse
import socket
from functools import cache

from aiohttp import web

from convoy.cli.dashboard.live import Watching
from convoy.cli.dashboard.server import application, new_token
from convoy.cli.env import Env
from convoy.cli.errors import OK
from convoy.cli.kube import KubeCluster

WILDCARDS = ("0.0.0.0", "::")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "dashboard",
        parents=[common],
        help="serve a live web page of runs, pipelines and rollbacks, with buttons for decisions",
        description="Serve a web page, on this machine, of the Workflows, WorkflowRuns, PipelineRuns and Rollbacks "
        "of the namespace (or of all), updated live; every read and every button is a request made as you.",
    )
    parser.add_argument("--port", type=int, default=3100, help="the port to listen on (default: 3100)")
    parser.add_argument(
        "--address", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="show every namespace")
    parser.set_defaults(command=serve)


def serve(args: argparse.Namespace, env: Env) -> int:
    @cache
    def connect(namespace: str | None) -> Watching:
        return KubeCluster(
            kubeconfig=args.kubeconfig,
            context=args.context,
            namespace=namespace or args.namespace,
            impersonate=args.as_user,
        )

    home = connect(None)
    home.server_version()  # a missing cluster is one line now, not an error on every page
    where = "all namespaces" if args.all_namespaces else f"namespace {home.namespace}"
    identity = f"as {args.as_user}" if args.as_user else "as the kubeconfig's user"
    app = application(
        connect,
        hosts=hosts(args.address, args.port),
        token=new_token(),
        all_namespaces=args.all_namespaces,
        identity=f"{where}, {identity}",
    )
    shown = "127.0.0.1" if args.address in WILDCARDS else args.address
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{args.port}/"
    env.out.out(f"Convoy dashboard at {url} ({where}, {identity}); Ctrl-C stops it", highlight=False)
    env.out.file.flush()
    web.run_app(app, host=args.address, port=args.port, print=None, shutdown_timeout=1, access_log=None)
    return OK


def hosts(address: str, port: int) -> set[str]:
    """The `host:port` names the page may be opened at: this machine's loopback names and the address listened
    on; on every address (0.0.0.0), the machine's own names too."""
    names = {"127.0.0.1", "localhost", "[::1]", f"[{address}]" if ":" in address else address}
    if address in WILDCARDS:
        names |= {socket.gethostname(), socket.getfqdn()}
    return {f"{name}:{port}" for name in names}
