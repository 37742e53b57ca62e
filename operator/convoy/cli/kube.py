"""The plugin's own Kubernetes access: the synchronous client, configured like kubectl (--kubeconfig, --context,
$KUBECONFIG, -n, --as), with every failure turned into one line and an exit code.

A CLI may block, so this is the plain `kubernetes` client, not the operator's asyncio one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, cast

from kubernetes import client, config, watch
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from convoy.api.common import GROUP, VERSION
from convoy.api.resources import BY_PLURAL
from convoy.cli.env import Body
from convoy.cli.errors import UNREACHABLE, CliError, NotFound

# (connect, read) seconds: a CLI should say quickly that the cluster is not there.
TIMEOUT = (5, 30)


class KubeCluster:
    def __init__(
        self, *, kubeconfig: str | None, context: str | None, namespace: str | None, impersonate: str | None
    ) -> None:
        configuration = client.Configuration()
        if kubeconfig and not os.path.isfile(kubeconfig):
            raise CliError(f"kubeconfig {kubeconfig} does not exist", UNREACHABLE)
        try:
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            chosen = next((c for c in contexts if c["name"] == context), None) if context else active
            if chosen is None:
                raise CliError(f"context {context} is not in the kubeconfig", UNREACHABLE)
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (ConfigException, OSError) as error:
            raise CliError(f"cannot load the kubeconfig: {error}", UNREACHABLE) from None
        self._namespace: str = namespace or chosen.get("context", {}).get("namespace") or "default"
        configuration.retries = 1
        self.server = configuration.host
        self.api = client.ApiClient(configuration)
        if impersonate:
            self.api.set_default_header("Impersonate-User", impersonate)  # type: ignore[no-untyped-call]
        self.custom = client.CustomObjectsApi(self.api)

    @property
    def namespace(self) -> str:
        return self._namespace

    def get(self, plural: str, name: str, namespace: str | None = None) -> Body:
        ns = namespace or self.namespace
        return self._call(f"{_singular(plural)} {name}", ns, self.custom.get_namespaced_custom_object, ns, plural, name)

    def list_objects(self, plural: str, *, all_namespaces: bool = False) -> list[Body]:
        if all_namespaces:
            found = self._call(plural, None, self.custom.list_cluster_custom_object, plural)
        else:
            ns = self.namespace
            found = self._call(plural, ns, self.custom.list_namespaced_custom_object, ns, plural)
        items: list[Body] = found.get("items") or []
        return items

    def create(self, plural: str, body: Body) -> Body:
        ns = self.namespace
        return self._call(_singular(plural), ns, self.custom.create_namespaced_custom_object, ns, plural, body)

    def patch(self, plural: str, name: str, ops: list[Body]) -> Body:
        ns, json_patch = self.namespace, "application/json-patch+json"
        method = self.custom.patch_namespaced_custom_object
        return self._call(f"{_singular(plural)} {name}", ns, method, ns, plural, name, ops, _content_type=json_patch)

    def watch(
        self,
        plural: str,
        namespace: str | None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        seconds: int = 30,
    ) -> Iterator[tuple[str, Body]]:
        """(event type, object) for each change to the objects of `plural` in `namespace` (None: every namespace)
        after `resource_version` (None: first each object that exists, as ADDED), for at most `seconds`."""
        selectors = {"field_selector": field_selector, "label_selector": label_selector}
        kwargs: dict[str, Any] = {k: v for k, v in selectors.items() if v}
        if resource_version:
            kwargs["resource_version"] = resource_version
        method: Any
        args: tuple[str, ...]
        if namespace is None:
            method, args = self.custom.list_cluster_custom_object, (GROUP, VERSION, plural)
        else:
            method, args = self.custom.list_namespaced_custom_object, (GROUP, VERSION, namespace, plural)
        timeout = (TIMEOUT[0], seconds + TIMEOUT[0])
        try:
            for event in watch.Watch().stream(  # type: ignore[no-untyped-call]
                method, *args, timeout_seconds=seconds, _request_timeout=timeout, **kwargs
            ):
                yield event["type"], event["object"]
        except (client.ApiException, HTTPError) as error:
            raise self._error(plural, namespace, error) from None

    def server_version(self) -> str:
        try:
            info = client.VersionApi(self.api).get_code(_request_timeout=TIMEOUT)
        except (client.ApiException, HTTPError) as error:
            raise self._error("version", None, error) from None
        return str(info.git_version)

    def _call(self, what: str, namespace: str | None, method: Any, *args: Any, **kwargs: Any) -> Body:
        """A CustomObjectsApi call on the convoy.dev group."""
        try:
            return cast(Body, method(GROUP, VERSION, *args, _request_timeout=TIMEOUT, **kwargs))
        except (client.ApiException, HTTPError) as error:
            raise self._error(what, namespace, error) from None

    def _error(self, what: str, namespace: str | None, error: Exception) -> CliError:
        if isinstance(error, client.ApiException):
            if error.status == 404:
                return NotFound(f"{what} not found" + (f" in namespace {namespace}" if namespace else ""))
            return CliError(_reason(error))
        return CliError(f"cannot reach the cluster at {self.server}: {_root_cause(error)}", UNREACHABLE)


def _singular(plural: str) -> str:
    kind = BY_PLURAL.get(plural)
    return kind.singular if kind else plural


def _reason(error: client.ApiException) -> str:
    """The API server's own message (a refusal by the admission webhook, RBAC, a schema error)."""
    try:
        status = json.loads(error.body or "")
    except (TypeError, ValueError):
        status = None
    if isinstance(status, dict) and status.get("message"):
        return cast(str, status["message"])
    return f"{error.status} {error.reason}"


def _root_cause(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if isinstance(reason, BaseException) else error)
