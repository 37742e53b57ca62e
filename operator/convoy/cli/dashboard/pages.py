"""Building a page: the reads it takes, made now and as the caller, turned into its view (convoy.cli.dashboard.views),
and the watches that say when to build it again. Nothing read is kept: a page built for one request is never
shown to another.

Blocking (the plugin's client): the server runs it in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from convoy.cli.dashboard import views
from convoy.cli.dashboard.live import Connect, Scope
from convoy.cli.env import Body
from convoy.cli.errors import CliError
from convoy.cli.get import stage_runs
from convoy.cli.refs import PIPELINE_RUNS, WORKFLOW_RUNS
from convoy.planner.cycle import RunIdentity
from convoy.planner.stages import selector

VIEWS = ("list", "pipelinerun", "workflowrun")


class UnknownPage(ValueError):
    """The query names no page."""


@dataclass(frozen=True)
class Page:
    view: str
    namespace: str = ""
    name: str = ""
    state: str = ""
    """The list: show objects in this state only."""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Page:
        page = cls(*(query.get(key, "") for key in ("view", "namespace", "name", "state")))
        if page.view not in VIEWS or (page.view != "list" and not (page.namespace and page.name)):
            raise UnknownPage(f"no such page: {dict(query)}")
        return page


def build(connect: Connect, page: Page, *, all_namespaces: bool, now: datetime) -> tuple[Body, list[Scope]]:
    """The page's view, and what to watch to know when it changes."""
    cluster = connect(None)
    if page.view == "list":
        where = None if all_namespaces else cluster.namespace
        objects: dict[str, list[Body] | str] = {}
        for plural in views.KINDS:
            try:
                objects[plural] = cluster.list_objects(plural, all_namespaces=all_namespaces)
            except CliError as error:
                objects[plural] = f"error: {error.message}"
        view = views.listing(objects, now, namespace=page.namespace or None, phase=page.state or None)
        view["scope"] = where or "all namespaces"
        return view, [Scope(plural, where) for plural in views.KINDS]
    plural = PIPELINE_RUNS if page.view == "pipelinerun" else WORKFLOW_RUNS
    scopes = [Scope(plural, page.namespace, field_selector=f"metadata.name={page.name}")]
    try:
        obj = cluster.get(plural, page.name, page.namespace)
    except CliError as error:
        return {"view": "error", "error": f"error: {error.message}"}, scopes
    if plural == WORKFLOW_RUNS:
        return views.workflow_run(obj, now), scopes
    labels = ",".join(f"{k}={v}" for k, v in selector(RunIdentity(page.name, page.namespace)).items())
    stages = (obj.get("status") or {}).get("stages") or []
    for namespace in sorted({s.get("namespace") or page.namespace for s in stages if s.get("workflowRun")}):
        scopes.append(Scope(WORKFLOW_RUNS, namespace, label_selector=labels))
    return views.pipeline_run(obj, stage_runs(cluster, obj), now), scopes
