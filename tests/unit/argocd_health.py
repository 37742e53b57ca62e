"""Runs docs/argocd-health.lua as Argo CD does: in Lua 5.1 (Argo CD embeds gopher-lua, a Lua 5.1), with the
resource as the global `obj` and only the base and table libraries (Argo CD opens no others for health scripts
unless `resource.customizations.useOpenLibs` says so), so a script that needs more fails here too. Shared by the
unit test (recorded statuses) and the e2e test (live ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import lua51  # type: ignore[import-untyped]

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "argocd-health.lua"
STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended")

_SANDBOXED = """
function(source, obj)
  local chunk = assert(loadstring(source, "argocd-health.lua"))
  setfenv(chunk, {obj = obj, ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring,
                  tonumber = tonumber, error = error, assert = assert, pcall = pcall, table = table})
  return chunk()
end
"""


def health(obj: dict[str, Any]) -> dict[str, str]:
    """Argo CD's health of `obj` (a resource as the API server returns it): {"status": ..., "message": ...}."""
    lua = lua51.LuaRuntime()
    result = lua.eval(_SANDBOXED)(SCRIPT.read_text(), lua.table_from(obj, recursive=True))
    out = {str(k): str(v) for k, v in result.items()}
    assert out.get("status") in STATUSES, f"not an Argo CD health status: {out}"
    return out
