"""ctserver/outage.py in process: a lost database answers 503, a page or the API's
error body, never a server error."""

from __future__ import annotations

import json
from typing import Any

from django.db import OperationalError

from ctserver.outage import DatabaseOutage


def outage() -> DatabaseOutage:
    return DatabaseOutage(lambda request: None)


def test_the_api_gets_its_error_body(rf: Any) -> None:
    answer = outage().process_exception(rf.post("/api/v1/sessions"), OperationalError("gone"))
    assert answer is not None and answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert json.loads(answer.content)["error"]["code"] == "database_unavailable"


def test_a_browser_gets_a_page(rf: Any) -> None:
    answer = outage().process_exception(rf.get("/dashboard/"), OperationalError("gone"))
    assert answer is not None and answer.status_code == 503
    assert b"cannot reach its database" in answer.content


def test_other_errors_are_not_its_business(rf: Any) -> None:
    assert outage().process_exception(rf.get("/"), ValueError("a bug")) is None
