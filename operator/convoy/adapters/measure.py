"""Verification measurements: one HTTP call or one Prometheus query, judged by the check's condition."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable

import aiohttp

from convoy.api.steps import HttpCheck, PrometheusCheck
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


async def measure(check: HttpCheck | PrometheusCheck) -> Measurement:
    try:
        if isinstance(check, HttpCheck):
            return await _http(check)
        return await _prometheus(check)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return Measurement(Outcome.FAILURE, f"{type(error).__name__}: {error}"[:300])


async def _http(check: HttpCheck) -> Measurement:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.request(check.method, check.url, headers=check.headers) as response,
    ):
        body = await response.text()
    if response.status not in check.expected_status:
        return Measurement(Outcome.FAILURE, f"HTTP {response.status}, expected {check.expected_status}")
    if check.body_pattern and not re.search(check.body_pattern, body):
        return Measurement(Outcome.FAILURE, f"HTTP {response.status}, body does not match {check.body_pattern!r}")
    return Measurement(Outcome.SUCCESS, f"HTTP {response.status}")


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
        payload = await response.json()
    if payload.get("status") != "success":
        return Measurement(Outcome.FAILURE, f"query failed: {payload.get('error', response.status)}")
    data = payload["data"]
    if data["resultType"] == "scalar":
        value = float(data["result"][1])
    elif data["resultType"] == "vector" and data["result"]:
        value = float(data["result"][0]["value"][1])
    else:
        return Measurement(Outcome.INCONCLUSIVE, "the query returned no sample")
    return judge(value, check.success_condition)
