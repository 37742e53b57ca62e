"""Render the CustomResourceDefinitions from the pydantic models, so the models stay the single source.

Pydantic emits JSON Schema 2020-12 with `$ref`s and `anyOf: [X, null]`; Kubernetes wants a *structural*
OpenAPI v3 schema: every node typed, no references, free-form objects marked `x-kubernetes-preserve-unknown-fields`.
This module performs that translation and keeps the docstrings as descriptions for `kubectl explain`.
Pure: `render_all()` returns the documents; `main()` writes them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from convoy.api.common import GROUP, VERSION
from convoy.api.resources import KINDS, Kind

Schema = dict[str, Any]

_KEPT = ("description", "pattern", "maxLength", "minLength", "maxItems", "minItems", "minimum", "maximum", "enum")


def structural(model: type[Any]) -> Schema:
    """The structural OpenAPI schema of a pydantic model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}))


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    description = node.get("description")
    if "$ref" in node:
        resolved = _convert(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {**resolved, "description": description} if description else resolved
    if "anyOf" in node or "allOf" in node:
        options = [o for o in node.get("anyOf") or node.get("allOf") or [] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express a union of {len(options)} types structurally: {node}")
        inner = _convert(options[0], defs)
        return {**inner, "description": description} if description else inner
    kind = node.get("type")
    out: Schema = {}
    if "enum" in node and kind is None:
        kind = "string"
    if kind == "object":
        out["type"] = "object"
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if properties is not None:
            out["properties"] = {name: _convert(sub, defs) for name, sub in properties.items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(additional, dict) and additional:
            out["additionalProperties"] = _convert(additional, defs)
        elif additional is True or additional is None or additional == {}:
            out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out["properties"] = {}
    elif kind == "array":
        out["type"] = "array"
        out["items"] = _convert(node.get("items", {}), defs) if node.get("items") else _free_object()
    elif kind in ("string", "integer", "number", "boolean"):
        out["type"] = kind
    elif kind is None and not node:
        return _free_object()
    else:
        raise ValueError(f"unsupported schema node: {node}")
    for key in _KEPT:
        if key in node:
            out[key] = node[key]
    if "exclusiveMinimum" in node:
        out["minimum"], out["exclusiveMinimum"] = node["exclusiveMinimum"], True
    return _description_first(out)


def _description_first(schema: Schema) -> Schema:
    """`type` and `description` lead each node, so the generated YAML reads top-down."""
    head: Schema = {k: schema[k] for k in ("type", "description") if k in schema}
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


def _free_object() -> Schema:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def render(kind: Kind) -> dict[str, Any]:
    """The CRD document of one kind."""
    properties: Schema = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": structural(kind.spec),
    }
    if kind.status is not None:
        properties["status"] = _without_required(structural(kind.status))
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "description": kind.description,
                "required": ["spec"],
                "properties": properties,
            }
        },
    }
    if kind.status is not None:
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in kind.columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "convoy"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": [kind.short_name],
                "categories": ["convoy"],
            },
            "versions": [version],
        },
    }


def _without_required(schema: Schema) -> Schema:
    """Status is written by the operator in patches; the server should not reject a partial one."""
    out = {k: v for k, v in schema.items() if k != "required"}
    if "properties" in out:
        out["properties"] = {k: _without_required(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _without_required(out["items"])
    return out


def render_all() -> dict[str, str]:
    """File name → YAML text, for every kind."""
    header = "# Generated by `make crds` from operator/convoy/api. Do not edit.\n"
    return {f"{GROUP}_{k.plural}.yaml": header + yaml.safe_dump(render(k), sort_keys=False, width=120) for k in KINDS}


def main(argv: list[str] | None = None) -> int:
    """Write the CRDs into each directory given on the command line."""
    targets = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not targets:
        print("usage: python -m convoy.api.crd DIR [DIR...]", file=sys.stderr)
        return 2
    files = render_all()
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob(f"{GROUP}_*.yaml"):
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            (target / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
