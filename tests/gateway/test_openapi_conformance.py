"""The OpenAPI document says exactly what the server does (issue 18 item 10).

schemathesis reads ``/openapi.json`` from a real server and sends requests generated from
it (valid and invalid); every answer must be declared (status code, content type, body
schema), no request may give a 5xx, and what the schema calls invalid must be refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from exchange.config import Settings
from tests.conftest import LiveServer, start_server

EXAMPLES = 25
_BUSINESS_RULES = {"/api/orders", "/api/orders/{client_order_id}", "/rtc/offer", "/api/replay"}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("openapi")
    # a short poll timeout: a held poll answers within it (the document says so too)
    settings = Settings().replace(
        data_dir=data, sim_rate=0.0, log_level="warning", poll_max_timeout_s=0.5
    )
    srv = start_server(settings)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(api_server: LiveServer) -> str:
    r = httpx.post(f"{api_server.url}/api/sessions", json={"account": "fuzz"})
    r.raise_for_status()
    value: str = r.json()["token"]
    return value


@pytest.fixture(scope="module")
def api_schema(api_server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")


def _checker(op: Any, headers: dict[str, str]) -> Any:
    # the order and offer bodies the schema allows may still be refused by the engine
    # (price missing, no funds) or by aiortc (an SDP it cannot use): 422/400, declared
    excluded = [positive_data_acceptance] if op.path in _BUSINESS_RULES else []

    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, timeout=10, excluded_checks=excluded)

    return check


def test_every_operation_conforms(api_schema: Any, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for op in operations:
        if (op.method.upper(), op.path) == ("GET", "/md/stream"):
            continue  # an endless stream: its HEAD is checked, its body by test_market_data

        check = _checker(op, headers)
        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's, then report
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
