"""Verification measurements: one HTTP call or one Prometheus query, judged by the check's condition.

An http check is written by a tenant and measured on the operator's only event loop, so nothing about it may take
unbounded time or memory: `bodyPattern` runs on RE2 (linear in the body), at most 1 MiB of body is read, and the
whole call has a time limit. Its headers are read from a Secret at the moment of the call, as the tenant, and go
nowhere else: not into the measurement's message, an Event or a log.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import operator
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import re2

from convoy.adapters.kube import get_or_none, path
from convoy.api.steps import BODY_LIMIT, HttpCheck, PrometheusCheck
from convoy.planner.observed import Measurement, Outcome

TIMEOUT = aiohttp.ClientTimeout(total=10)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*result\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)\s*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CHUNK = 64 * 1024


class _Unusable(Exception):
    """The check cannot be measured as written (its Secret is missing or holds no valid header); the message
    names the Secret and key, never a value."""


async def measure(check: HttpCheck | PrometheusCheck, namespace: str) -> Measurement:
    """One measurement of `check` for a run in `namespace` (where an http check's `headersFrom` Secret lives)."""
    try:
        if isinstance(check, HttpCheck):
            return await _http(check, namespace)
        return await _prometheus(check)
    except _Unusable as error:
        return Measurement(Outcome.FAILURE, str(error))
    except re2.error:
        return Measurement(Outcome.FAILURE, "bodyPattern is not a valid RE2 regular expression")
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return Measurement(Outcome.FAILURE, f"{type(error).__name__}: {error}"[:300])


async def read_secret(namespace: str, name: str) -> dict[str, str] | None:
    """The data of a Secret (base64 values as stored), None when it does not exist. Read as the tenant while a
    run's actions are performed."""
    secret = await get_or_none("secrets", path("v1", "secrets", namespace, name))
    return None if secret is None else dict(secret.get("data") or {})


async def headers_of(check: HttpCheck, namespace: str) -> dict[str, str]:
    """The request headers of `check`: each key of its `headersFrom` Secret is a header name."""
    if check.headers_from is None:
        return {}
    name = check.headers_from.name
    data = await read_secret(namespace, name)
    if data is None:
        raise _Unusable(f"Secret {namespace}/{name} (verify.http.headersFrom) not found")
    headers = {}
    for key, encoded in sorted(data.items()):
        try:
            value = base64.b64decode(encoded, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            raise _Unusable(f"Secret {namespace}/{name} key {key!r} is not UTF-8 text: it cannot be a header") from None
        if not _HEADER_NAME.match(key) or any(c in value for c in "\r\n\0"):
            raise _Unusable(f"Secret {namespace}/{name} key {key!r} is not a valid header name and value")
        headers[key] = value
    return headers


async def _http(check: HttpCheck, namespace: str) -> Measurement:
    regex = check.body_regex()  # checked at admission; a stored spec that no longer compiles fails here
    headers = await headers_of(check, namespace)
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        # A redirect would carry the Secret's headers to wherever it points.
        session.request(
            check.method, check.url, headers=headers, allow_redirects=check.headers_from is None
        ) as response,
    ):
        if response.status not in check.expected_status:
            return Measurement(Outcome.FAILURE, f"HTTP {response.status}, expected {check.expected_status}")
        if regex is None:
            return Measurement(Outcome.SUCCESS, f"HTTP {response.status}")
        body = await _bounded(response)
        if body is None:
            return Measurement(
                Outcome.FAILURE, f"HTTP {response.status}, body larger than 1 MiB: bodyPattern reads at most 1 MiB"
            )
        text = _decoded(body, response.charset)
    if regex.search(text) is None:
        return Measurement(Outcome.FAILURE, f"HTTP {response.status}, body does not match {check.body_pattern!r}")
    return Measurement(Outcome.SUCCESS, f"HTTP {response.status}")


async def _bounded(response: aiohttp.ClientResponse) -> bytes | None:
    """The body, read in chunks up to 1 MiB; None when it is longer (the rest is never read, nor held)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > BODY_LIMIT:
            return None
    return bytes(body)


def _decoded(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def judge(value: float, condition: str) -> Measurement:
    """Apply a success condition ('result < 0.05') to a query result; NaN is inconclusive."""
    match = _CONDITION.match(condition)
    if match is None:
        raise ValueError(f"cannot read condition {condition!r}")
    if math.isnan(value):
        return Measurement(Outcome.INCONCLUSIVE, "result is NaN")
    passed = _COMPARE[match.group(1)](value, float(match.group(2)))
    return Measurement(Outcome.SUCCESS if passed else Outcome.FAILURE, f"result {value:g}, {condition.strip()}")


async def _prometheus(check: PrometheusCheck) -> Measurement:
    url = check.address.rstrip("/") + "/api/v1/query"
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.get(url, params={"query": check.query}) as response,
    ):
        body = await _bounded(response)
    if body is None:
        return Measurement(Outcome.FAILURE, f"HTTP {response.status}, answer larger than 1 MiB: not a query result")
    try:
        payload = json.loads(body)
        if payload.get("status") != "success":
            return Measurement(Outcome.FAILURE, f"query failed: {payload.get('error', response.status)}")
        return judge_result(payload["data"], check.success_condition)
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # an address that is not Prometheus
        return Measurement(Outcome.FAILURE, f"HTTP {response.status}: not a Prometheus query result ({error!r})")


SERIES_NAMED = 3
"""How many failing (or inconclusive) series a measurement's message names; the rest are counted."""


def judge_result(data: dict[str, Any], condition: str) -> Measurement:
    """Judge a query's result: a scalar, or every series of an instant vector. One failing series fails the
    measurement and the message names it by its labels; else one NaN series makes it inconclusive; an empty vector
    is inconclusive. A range vector (matrix) or a string cannot be judged. Pure.

        vector [{pod="a"} 0.01, {pod="b"} 0.09], 'result < 0.05'
            -> Failure: '1 of 2 series fail result < 0.05: {pod="b"} 0.09'
    """
    kind = data.get("resultType")
    if kind == "scalar":
        return judge(float(data["result"][1]), condition)
    if kind != "vector":
        return Measurement(Outcome.FAILURE, f"the query returned a {kind}: write one that returns an instant vector")
    series = [(_labels(item.get("metric") or {}), float(item["value"][1])) for item in data["result"]]
    if not series:
        return Measurement(Outcome.INCONCLUSIVE, "the query returned no sample")
    if len(series) == 1:
        single = judge(series[0][1], condition)
        return Measurement(
            single.outcome, f"{series[0][0]} {single.message}" if series[0][0] != "{}" else single.message
        )
    verdicts = [(labels, value, judge(value, condition).outcome) for labels, value in series]
    wanted = condition.strip()
    for outcome, verb in ((Outcome.FAILURE, "fail"), (Outcome.INCONCLUSIVE, "are NaN for")):
        bad = [f"{labels} {value:g}" for labels, value, seen in verdicts if seen is outcome]
        if bad:
            more = f" and {len(bad) - SERIES_NAMED} more" if len(bad) > SERIES_NAMED else ""
            named = ", ".join(bad[:SERIES_NAMED])
            return Measurement(outcome, f"{len(bad)} of {len(series)} series {verb} {wanted}: {named}{more}")
    worst = max(series, key=lambda s: s[1])
    return Measurement(Outcome.SUCCESS, f"all {len(series)} series pass {wanted} (highest {worst[0]} {worst[1]:g})")


def _labels(metric: dict[str, str]) -> str:
    """A series' labels as PromQL writes a selector: name{k="v", ...}."""
    name = metric.get("__name__", "")
    pairs = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{pairs}}}"
