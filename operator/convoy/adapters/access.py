"""Asking the API server whether a user may do something (a SubjectAccessReview), for the admission webhooks.

Some requests carry more than the write they are: a Rollback decision asks for what creating a Rollback asks for,
and a run with an inline workflow declares a Workflow. Admission checks that the requester holds that right too,
so that patching or creating a run never lets anyone do more than they could declare themselves. The review is
made with the operator's own identity (it needs `create` on `subjectaccessreviews`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from convoy.adapters.kube import path, request


async def may(user: Mapping[str, Any], *, verb: str, group: str, resource: str, namespace: str) -> bool:
    """Whether `user` (an admission request's userInfo: username, uid, groups, extra) may `verb` `resource`."""
    extra = user.get("extra") or {}
    spec: dict[str, Any] = {
        "user": user.get("username"),
        "uid": user.get("uid"),
        "groups": list(user.get("groups") or []),
        "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource},
    }
    if extra:
        spec["extra"] = {str(k): list(v) for k, v in extra.items()}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    url = path("authorization.k8s.io/v1", "subjectaccessreviews")
    result = await request("create", "subjectaccessreviews", "POST", url, body=review)
    return bool((result.get("status") or {}).get("allowed"))


_me: str | None = None


async def operator_username() -> str:
    """Who the operator itself is to the API server (a SelfSubjectReview, asked once)."""
    global _me
    if _me is None:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        url = path("authentication.k8s.io/v1", "selfsubjectreviews")
        answer = await request("create", "selfsubjectreviews", "POST", url, body=review)
        _me = str(answer["status"]["userInfo"]["username"])
    return _me
