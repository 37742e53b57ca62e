"""The entry point of `kubectl convoy` (console script `kubectl-convoy`): the global flags, one subcommand per
verb (each registered by its own module), and the one place where errors become `error: ...` and an exit code."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import NoReturn

from rich.console import Console

from convoy.cli import dashboard, decide, get, lint, listing, rollback, run, version
from convoy.cli.env import Cluster, Env
from convoy.cli.errors import INTERRUPTED, USAGE, CliError
from convoy.cli.kube import KubeCluster


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Usage errors too are one line (exit 2)."""
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        sys.exit(USAGE)


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Accepted before and after the verb, as kubectl does; after it, an absent flag must not hide one given before.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("-n", "--namespace", default=default, help="the namespace (default: the context's)")
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument("--kubeconfig", default=default, help="path to the kubeconfig (default: $KUBECONFIG)")
    parser.add_argument("--as", dest="as_user", metavar="USER", default=default, help="act as this user")


def parser() -> Parser:
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, suppress=True)
    root = Parser(
        prog="kubectl convoy",
        description="Watch, start and steer Convoy workflow runs and pipeline runs.",
        epilog="Exit codes: 0 ok, 1 failed or refused, 2 usage error or timeout, 3 not found or no cluster.",
    )
    _global_flags(root, suppress=False)
    commands = root.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for module in (get, listing, run, decide, rollback, dashboard, lint, version):
        module.register(commands, common)
    return root


def real_env(args: argparse.Namespace) -> Env:
    @cache
    def connect() -> Cluster:
        return KubeCluster(
            kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace, impersonate=args.as_user
        )

    return Env(connect=connect, out=Console(highlight=False), clock=lambda: datetime.now(UTC), sleep=time.sleep)


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.command(args, env or real_env(args))
    except CliError as error:
        sys.stderr.write(f"error: {error.message}\n")
        return error.code
    except KeyboardInterrupt:
        return INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
