"""handlers/local.py: Flask request -> Scaleway event -> handler -> Flask response."""

from __future__ import annotations

import base64
import json
import textwrap
import uuid
from pathlib import Path

import functions_framework
import pytest

LOCAL = str(Path(__file__).resolve().parents[2] / "handlers" / "local.py")

ECHO_HANDLER = """
import json

def handle(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"event": event, "context": context}),
    }
"""


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler_source: str):
    """A test client for a target wrapping a handler module written to ``tmp_path``."""
    module = f"fake_handler_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(handler_source))
    targets = tmp_path / "targets.py"
    targets.write_text(f"from handlers.local import make_target\nfake = make_target({module!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return functions_framework.create_app("fake", str(targets)).test_client()


def test_text_request_becomes_the_platform_event(tmp_path, monkeypatch):
    # GIVEN a handler that echoes its event
    client = _client(tmp_path, monkeypatch, ECHO_HANDLER)
    # WHEN a JSON POST with a query string arrives
    response = client.post(
        "/jobs?dry_run=true&x=1",
        data='{"dry_run": true, "name": "café"}'.encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer t0k"},
    )
    # THEN the handler saw the Scaleway event shape, body as text, no base64 flag
    assert response.status_code == 200
    seen = response.get_json()
    event = seen["event"]
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/jobs"
    assert event["queryStringParameters"] == {"dry_run": "true", "x": "1"}
    assert event["body"] == '{"dry_run": true, "name": "café"}'
    assert "isBase64Encoded" not in event
    assert event["headers"]["Authorization"] == "Bearer t0k"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["requestContext"]["requestId"] == event["headers"]["X-Request-Id"]
    assert seen["context"]["functionName"].startswith("fake_handler_")


def test_empty_body_is_an_empty_string(tmp_path, monkeypatch):
    client = _client(tmp_path, monkeypatch, ECHO_HANDLER)
    event = client.get("/health").get_json()["event"]
    assert event["httpMethod"] == "GET"
    assert event["body"] == ""
    assert "isBase64Encoded" not in event


def test_binary_body_travels_base64(tmp_path, monkeypatch):
    client = _client(tmp_path, monkeypatch, ECHO_HANDLER)
    payload = b"\xff\xfe\x00binary\x80"
    event = client.post("/", data=payload).get_json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_handler_result_becomes_the_response(tmp_path, monkeypatch):
    client = _client(
        tmp_path,
        monkeypatch,
        """
        def handle(event, context):
            return {"statusCode": 409, "headers": {"X-Thing": 7, "Content-Type": "application/json"},
                    "body": '{"error": {"code": "busy"}}'}
        """,
    )
    response = client.post("/")
    assert response.status_code == 409
    assert response.headers["X-Thing"] == "7"
    assert response.get_json() == {"error": {"code": "busy"}}


def test_base64_result_is_decoded(tmp_path, monkeypatch):
    client = _client(
        tmp_path,
        monkeypatch,
        """
        import base64
        def handle(event, context):
            return {"statusCode": 200, "isBase64Encoded": True,
                    "body": base64.b64encode(b"\\x00\\x01\\xff").decode()}
        """,
    )
    assert client.get("/").data == b"\x00\x01\xff"


def test_result_without_status_code_is_a_500(tmp_path, monkeypatch):
    client = _client(tmp_path, monkeypatch, "def handle(event, context):\n    return {'ok': True}\n")
    response = client.get("/")
    assert response.status_code == 500
    assert b"statusCode" in response.data


def test_body_over_the_platform_limit_is_refused(tmp_path, monkeypatch):
    client = _client(tmp_path, monkeypatch, ECHO_HANDLER)
    response = client.post("/", data=b"x" * (6 * 1024 * 1024 + 1))
    assert response.status_code == 413


@pytest.mark.parametrize("target", ["dispatch", "copy"])
def test_real_handlers_answer_health(target, monkeypatch):
    # The real handlers behind the real targets, with the least configuration they accept.
    monkeypatch.setenv("SCW_CONFIG_PATH", "/nonexistent/scw.yaml")
    client = functions_framework.create_app(target, LOCAL).test_client()
    response = client.get("/health")
    assert response.status_code == 200, response.data
    assert json.loads(response.data) is not None
