"""`kubectl convoy version`: the plugin's version and, when the cluster answers, the API server's."""

from __future__ import annotations

import argparse
from importlib import metadata

from convoy.cli.env import Env
from convoy.cli.errors import OK, CliError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("version", parents=[common], help="print the plugin's and the server's versions")
    parser.set_defaults(command=version)


def version(args: argparse.Namespace, env: Env) -> int:
    env.out.out(f"Plugin Version: kubectl-convoy {metadata.version('convoy')}", highlight=False)
    try:
        server = env.connect().server_version()
    except CliError as error:
        server = f"unknown ({error})"
    env.out.out(f"Server Version: {server}", highlight=False)
    return OK
