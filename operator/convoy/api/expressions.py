"""The expression language of string fields: `${scope.path}` references and `when` conditions.

References: `${workflow.variables.NAME}`, `${pipeline.variables.NAME}`, `${stages.STAGE.outputs.KEY}`,
`${run.name}`, `${run.namespace}`, `${artifact.image}`. A `when` condition is, after substitution, either a
single value (true when it is 'true', 'yes' or '1') or `LEFT == RIGHT` / `LEFT != RIGHT`, sides optionally quoted.
Pure functions; the validator checks references, the planner renders them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

REFERENCE = re.compile(r"\$\{([^}]*)\}")
_PATHS = (
    re.compile(r"^workflow\.variables\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$"),
    re.compile(r"^pipeline\.variables\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$"),
    re.compile(r"^stages\.(?P<stage>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.outputs\.(?P<name>[A-Za-z0-9_.-]+)$"),
    re.compile(r"^run\.(name|namespace)$"),
    re.compile(r"^artifact\.image$"),
)
_CONDITION = re.compile(r"^\s*(?P<left>.*?)\s*(?P<op>==|!=)\s*(?P<right>.*?)\s*$")
_TRUE = {"true", "yes", "1"}


class ExpressionError(ValueError):
    """An expression that cannot be read; the message says how to write it."""


@dataclass(frozen=True)
class Reference:
    path: str

    @property
    def scope(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def stage(self) -> str | None:
        return self.path.split(".")[1] if self.scope == "stages" else None


def references(text: str) -> Iterator[Reference]:
    """Every `${...}` in `text`; raises ExpressionError for one that is not a known reference."""
    for match in REFERENCE.finditer(text):
        path = match.group(1).strip()
        if not any(p.match(path) for p in _PATHS):
            raise ExpressionError(
                f"unknown reference '${{{path}}}': use ${{workflow.variables.NAME}}, ${{pipeline.variables.NAME}}, "
                "${stages.STAGE.outputs.KEY}, ${run.name}, ${run.namespace} or ${artifact.image}"
            )
        yield Reference(path)


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, text) of every string inside a wire-format value, dict keys excluded."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            yield from strings(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from strings(sub, f"{path}[{i}]")


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute references by their values (keyed by path); raises ExpressionError for one without a value."""

    def substitute(match: re.Match[str]) -> str:
        path = match.group(1).strip()
        if path not in values:
            raise ExpressionError(f"'${{{path}}}' has no value")
        return values[path]

    return REFERENCE.sub(substitute, text)


def render_tree(value: Any, values: Mapping[str, str]) -> Any:
    """`render` applied to every string of a wire-format value."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, Mapping):
        return {key: render_tree(sub, values) for key, sub in value.items()}
    if isinstance(value, list):
        return [render_tree(sub, values) for sub in value]
    return value


def parse_condition(text: str) -> tuple[str, str | None, str | None]:
    """(left, operator, right) of a condition; operator None for a single value."""
    if text.count("==") + text.count("!=") > 1:
        raise ExpressionError("a condition compares two values once: 'A == B' or 'A != B'")
    match = _CONDITION.match(text)
    if match is None:
        return _unquote(text.strip()), None, None
    left, right = _unquote(match.group("left")), _unquote(match.group("right"))
    return left, match.group("op"), right


def holds(condition: str, values: Mapping[str, str]) -> bool:
    """Whether a `when` condition holds once its references are rendered."""
    left, op, right = parse_condition(render(condition, values))
    if op is None:
        return left.lower() in _TRUE
    return (left == right) == (op == "==")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
