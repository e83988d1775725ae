"""The copy function: parse the platform's event, run one copy job, answer in JSON.

``GET /health`` answers 200 without auth; ``POST /`` carries one ``CopyJob``
(``shared.copying.route``); errors become answers in ``shared.web.error_response``.
"""

from __future__ import annotations

import time
from typing import Any

from shared.copying.route import MAX_BODY, copy_route
from shared.errors import MethodNotAllowed
from shared.observability import configure_logging, correlation
from shared.settings import load_settings
from shared.web import error_response, json_response, parse_event


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    with correlation():
        try:
            settings = load_settings()
            configure_logging(settings.log_level)
            request = parse_event(event, max_body=MAX_BODY)
            if request.method == "GET" and request.path.rstrip("/").endswith("/health"):
                return json_response(200, {"status": "ok"})
            if request.method != "POST":
                raise MethodNotAllowed("use POST with a copy job")
            return copy_route(request, settings, started)
        except Exception as exc:  # the one place errors become answers
            return error_response(exc)
