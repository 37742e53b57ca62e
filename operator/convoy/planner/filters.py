"""Branch and tag filters of pipeline stages, with CircleCI's semantics.

A run triggered by a tag runs only the stages with a `tags` filter that lets the tag through; a run triggered by
a branch (or by hand, without a tag) runs a stage unless its `branches` filter keeps the branch out. A name
matches a pattern written `/regex/` when the regex matches the whole name, and any other pattern when it is equal
to the name. `only` lets through what matches one of its patterns; `ignore` keeps out what matches one of its.

    verdict(Filters(branches=NameFilter(only=["main"])), TriggerContext(branch="main"))   -> runs
    verdict(None, TriggerContext(tag="v1.0"))                                           -> skipped (no tags filter)

A stage runs only after the stages it requires ran, so a stage that requires a skipped stage is skipped too,
transitively (`skips`). On a tag push that is CircleCI's rule that a job runs only when it *and every job it
transitively requires* have a tags filter. With the reference's build-n-deploy pipeline, where `test` has no
tags filter:

    build (tags /^config-test.*/) <- test (no filters) <- deploy (tags /^config-test.*/, branches ignore /.*/)
    tag config-test-1: build runs; test is skipped (no tags filter); deploy is skipped (it requires test)
    branch main:       build and test run; deploy is skipped (branches ignore /.*/)

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from convoy.api.pipeline import Filters, NameFilter, Stage, TriggerContext

RAN_FIRST = "a stage runs only after the stages it requires ran"


@dataclass(frozen=True)
class Verdict:
    runs: bool
    reason: str = ""


def matches(pattern: str, name: str) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        return re.fullmatch(pattern[1:-1], name) is not None
    return pattern == name


def verdict(filters: Filters | None, trigger: TriggerContext) -> Verdict:
    """Whether a stage with `filters` runs for a PipelineRun triggered by `trigger`, and if not, why."""
    if trigger.tag is not None:
        if filters is None or filters.tags is None:
            return Verdict(False, f"tag {trigger.tag}: a tag-triggered run skips stages without a tags filter")
        return _judge(filters.tags, trigger.tag, "tag")
    if filters is None or filters.branches is None:
        return Verdict(True)
    if trigger.branch is None:
        if filters.branches.only:
            return Verdict(False, f"no branch given: the stage runs only on {', '.join(filters.branches.only)}")
        return Verdict(True)
    return _judge(filters.branches, trigger.branch, "branch")


def skips(
    stages: Sequence[Stage],
    graph: Mapping[str, list[str]],
    trigger: TriggerContext,
    *,
    reused: Set[str] = frozenset(),
) -> dict[str, str]:
    """The stages a run triggered by `trigger` skips, each with why: those its own filters keep out, and those
    that require a skipped stage, directly or not. `graph` is stage -> the stages it requires (acyclic). A stage in
    `reused` ran in an earlier run: it is not skipped, and what requires it is judged by its own filters.

        stages a <- b (branches only: main) <- c, branch dev:
        {"b": "branch dev is not among only: main",
         "c": "requires b, which was skipped (branch dev is not among only: main); a stage runs only after ..."}
    """
    own = {s.name: verdict(s.filters, trigger) for s in stages}
    causes: dict[str, tuple[str, str] | None] = {}
    for stage in stages:
        _cause(stage.name, graph, own, reused, causes)
    out: dict[str, str] = {}
    for stage in stages:
        found = causes[stage.name]
        if found is None:
            continue
        required, root = found
        if required == stage.name:
            out[stage.name] = own[stage.name].reason
        else:
            via = "" if required == root else f" because {root} was"
            out[stage.name] = f"requires {required}, which was skipped{via} ({own[root].reason}); {RAN_FIRST}"
    return out


def _cause(
    name: str,
    graph: Mapping[str, list[str]],
    own: Mapping[str, Verdict],
    reused: Set[str],
    causes: dict[str, tuple[str, str] | None],
) -> tuple[str, str] | None:
    """Why `name` is skipped, memoized in `causes`: (itself, itself) when its filters keep it out, (the first
    skipped stage it requires, the stage whose filters started it all) when it requires one, None when it runs."""
    if name in causes:
        return causes[name]
    found: tuple[str, str] | None = None
    if name in reused:
        pass  # it ran in the earlier run, whatever its filters say now
    elif not own[name].runs:
        found = (name, name)
    else:
        for required in graph.get(name, []):
            upstream = _cause(required, graph, own, reused, causes)
            if upstream is not None:
                found = (required, upstream[1])
                break
    causes[name] = found
    return found


def _judge(name_filter: NameFilter, name: str, what: str) -> Verdict:
    if name_filter.only and not any(matches(p, name) for p in name_filter.only):
        return Verdict(False, f"{what} {name} is not among only: {', '.join(name_filter.only)}")
    ignored = next((p for p in name_filter.ignore if matches(p, name)), None)
    if ignored is not None:
        return Verdict(False, f"{what} {name} is ignored ({ignored})")
    return Verdict(True)
