"""Branch and tag filters of pipeline stages, with CircleCI's semantics.

A run triggered by a tag runs only the stages with a `tags` filter that lets the tag through; a run triggered by
a branch (or by hand, without a tag) runs a stage unless its `branches` filter keeps the branch out. A name
matches a pattern written `/regex/` when the regex matches the whole name, and any other pattern when it is equal
to the name. `only` lets through what matches one of its patterns; `ignore` keeps out what matches one of its.

    verdict(Filters(branches=NameFilter(only=["main"])), TriggerContext(branch="main"))   -> runs
    verdict(None, TriggerContext(tag="v1.0"))                                           -> skipped (no tags filter)

Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from convoy.api.pipeline import Filters, NameFilter, TriggerContext


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


def _judge(name_filter: NameFilter, name: str, what: str) -> Verdict:
    if name_filter.only and not any(matches(p, name) for p in name_filter.only):
        return Verdict(False, f"{what} {name} is not among only: {', '.join(name_filter.only)}")
    ignored = next((p for p in name_filter.ignore if matches(p, name)), None)
    if ignored is not None:
        return Verdict(False, f"{what} {name} is ignored ({ignored})")
    return Verdict(True)
