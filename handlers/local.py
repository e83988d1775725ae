"""functions-framework targets that serve the Scaleway handlers locally (dev only).

    python -m functions_framework --target dispatch --source handlers/local.py --port 8081
    python -m functions_framework --target copy --source handlers/local.py --port 8082
    python -m functions_framework --target hooks --source handlers/local.py --port 8083

Each request becomes the event the Scaleway platform would build, the handler's returned
dict becomes the HTTP response. Not shipped: serverless.yml leaves this file out.
"""

from __future__ import annotations

import base64
import importlib
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import flask

# functions-framework imports this file by path: make the project's packages importable
# even when the server was not started from the project root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

MAX_REQUEST_BYTES = 6 * 1024 * 1024  # the platform's request payload limit
MEMORY_LIMIT_MB = 256  # what `context` reports; informative only


def scaleway_event(request: flask.Request) -> dict[str, Any]:
    """The HTTP event the platform hands to ``handle(event, context)``."""
    raw = request.get_data(cache=False)
    headers = {name: value for name, value in request.headers.items()}
    request_id = headers.setdefault("X-Request-Id", str(uuid.uuid4()))
    headers.setdefault("X-Forwarded-For", request.remote_addr or "127.0.0.1")
    headers.setdefault("X-Forwarded-Proto", request.scheme)
    event: dict[str, Any] = {
        "httpMethod": request.method,
        "path": request.path,
        "headers": headers,
        "queryStringParameters": request.args.to_dict(flat=True),
        "requestContext": {
            "httpMethod": request.method,
            "requestId": request_id,
            "stage": "",
            "identity": {"sourceIp": request.remote_addr},
        },
    }
    try:
        event["body"] = raw.decode("utf-8")
    except UnicodeDecodeError:  # binary bodies travel base64-encoded, flagged as such
        event["body"] = base64.b64encode(raw).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def flask_response(result: Any) -> flask.Response:
    """The handler's ``{"statusCode", "headers", "body"}`` as a Flask response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # The platform's behaviour for a bare return value varies; our handlers never do it.
        return _plain(500, "the handler returned no statusCode")
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = body.encode("utf-8") if isinstance(body, str) else str(body).encode("utf-8")
    response = flask.Response(data, status=int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    return response


def serve(module_name: str, request: flask.Request) -> flask.Response:
    """Import the handler module on first use, then run one request through it."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return _plain(413, "request body larger than 6 MiB")
    handler = importlib.import_module(module_name).handle
    context = {
        "memoryLimitInMb": MEMORY_LIMIT_MB,
        "functionName": module_name.rsplit(".", 1)[-1],
        "functionVersion": "local",
    }
    return flask_response(handler(scaleway_event(request), context))


def make_target(module_name: str) -> Callable[[flask.Request], flask.Response]:
    """A functions-framework target serving ``module_name.handle``."""

    def target(request: flask.Request) -> flask.Response:
        return serve(module_name, request)

    target.__name__ = module_name.rsplit(".", 1)[-1]
    return target


def _plain(status: int, text: str) -> flask.Response:
    return flask.Response(text, status=status, mimetype="text/plain")


# functions-framework wants plain functions defined in this file.
def dispatch(request: flask.Request) -> flask.Response:
    return serve("handlers.dispatch", request)


def copy(request: flask.Request) -> flask.Response:
    return serve("handlers.copy", request)


def hooks(request: flask.Request) -> flask.Response:
    """The public deployment of dispatch's code (serverless.yml's ``hooks``), on its own port."""
    return serve("handlers.dispatch", request)
