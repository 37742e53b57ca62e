"""Asking the API server whether a user may do something (a SubjectAccessReview), for the admission webhooks.

Some requests carry more than the write they are: a Rollback decision asks for what creating a Rollback asks for,
and a run with an inline workflow declares a Workflow. Admission checks that the requester holds that right too,
so that patching or creating a run never lets anyone do more than they could declare themselves. The review is
made with the operator's own identity (it needs `create` on `subjectaccessreviews`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client

from convoy.adapters.kube import api, call


async def may(user: Mapping[str, Any], *, verb: str, group: str, resource: str, namespace: str) -> bool:
    """Whether `user` (an admission request's userInfo: username, uid, groups, extra) may `verb` `resource`."""
    extra = user.get("extra") or {}
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user.get("username"),
            uid=user.get("uid"),
            groups=list(user.get("groups") or []),
            extra={str(k): list(v) for k, v in extra.items()} or None,
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource
            ),
        )
    )
    authorization = client.AuthorizationV1Api(api())
    result = await call("create", "subjectaccessreviews", authorization.create_subject_access_review(review))
    return bool(result.status and result.status.allowed)


_me: str | None = None


async def operator_username() -> str:
    """Who the operator itself is to the API server (a SelfSubjectReview, asked once)."""
    global _me
    if _me is None:
        authentication = client.AuthenticationV1Api(api())
        review = await call(
            "create", "selfsubjectreviews", authentication.create_self_subject_review(client.V1SelfSubjectReview())
        )
        _me = str(review.status.user_info.username)
    return _me
