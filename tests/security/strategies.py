"""Hostile HTTP requests for each route of dispatch and copy, as hypothesis strategies.

A request is drawn in layers: a body (``tests.security.bodies``), then the credentials the route
accepts (right, wrong, missing, twice; signatures computed over the final body, or stale), then
the method, the path, the content type and extra headers (odd names and case, values past the
HTTP server's 8 KiB line limit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from hypothesis import strategies as st

from tests.fixtures.secrets import SECRETS
from tests.security.bodies import (ALERT_NOTICE, COPY_JOB, DISPATCH_REQUEST, LIMITS, SLACK_BODY, hostile_bodies,
                                   json_bodies, mostly)
from tests.security.fuzzing import Hostility
from tests.security.served import GRAFANA_TIMESTAMP_HEADER

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
                 "application/json; charset=utf-16", "", "*/*", "application/json, text/plain"]

# --- credentials -------------------------------------------------------------------------------
# A scheme is a strategy of choices, drawn once, and a function that turns a choice and the final
# body into headers (a signature covers the body, so it is computed last).

@dataclass(frozen=True)
class Scheme:
    choices: st.SearchStrategy[Any]
    headers: Callable[[bytes, Any], list[tuple[str, str]]]


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"alertmanager:{password}".encode()).decode()


def _tokens(token: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    values = [f"Bearer {token}", f"bearer {token}", f"Bearer {token}x", f"Bearer {token.swapcase()}",
              f"Bearer {SECRETS.other_bearer_token}x", "Bearer", "Bearer  " + token, _basic(token), _basic("wrong"),
              "Basic !!!", f"Token {token}", f"Bearer {token}, Bearer wrong", "x" * 5000]
    one = st.sampled_from(values).map(lambda value: [("Authorization", value)])
    right = st.sampled_from([f"Bearer {token}", _basic(token)]).map(lambda value: [("Authorization", value)])
    twice = st.lists(one, min_size=2, max_size=2).map(lambda pair: pair[0] + pair[1])
    return st.tuples(st.integers(0, 9), right, st.one_of(st.just([]), one, twice)).map(
        lambda t: t[1] if t[0] < 7 else t[2])


def bearer(token: str) -> Scheme:
    return Scheme(_tokens(token), lambda body, chosen: chosen)


def _slack_headers(body: bytes, chosen: tuple[str, int]) -> list[tuple[str, str]]:
    choice, skew = chosen
    stamp = str(int(time.time()) + skew)
    secret = SECRETS.slack_signing_secret if choice != "other secret" else SECRETS.grafana_secret
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"right": [("X-Slack-Request-Timestamp", stamp), ("X-Slack-Signature", signature)],
               "other secret": [("X-Slack-Request-Timestamp", stamp), ("X-Slack-Signature", signature)],
               "no signature": [("X-Slack-Request-Timestamp", stamp)],
               "garbage": [("X-Slack-Request-Timestamp", "1e9"), ("X-Slack-Signature", "v0=zz")],
               "twice": [("X-Slack-Request-Timestamp", stamp), ("X-Slack-Signature", signature),
                         ("X-Slack-Signature", "v0=00")],
               "none": []}
    return headers[choice]


SLACK = Scheme(st.tuples(mostly("right", ["other secret", "no signature", "garbage", "twice", "none"], tenths=7),
                         mostly(0, [-301, 301, -10**9])), _slack_headers)


def _grafana_headers(with_stamp: bool, body: bytes, chosen: tuple[str, int, list[tuple[str, str]]]) -> list:
    choice, skew, token = chosen
    stamp = str(int(time.time()) + skew)
    message = (stamp.encode() + b":" + body) if with_stamp else body
    secret = SECRETS.grafana_secret if choice != "other secret" else SECRETS.slack_signing_secret
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    headers = [(GRAFANA_TIMESTAMP_HEADER, stamp)] if with_stamp else []
    if choice in ("right", "other secret"):
        headers.append(("X-Grafana-Alerting-Signature", signature))
    elif choice == "upper":
        headers.append(("X-Grafana-Alert-Signature", "sha256=" + signature.upper()))
    elif choice == "garbage":
        headers.append(("X-Grafana-Alerting-Signature", "not hex at all"))
    return headers + token


def grafana(with_stamp: bool) -> Scheme:
    choices = st.tuples(mostly("right", ["upper", "other secret", "garbage", "none"], tenths=7), mostly(0, [-301, 301]),
                        st.tuples(st.booleans(), _tokens(SECRETS.bearer_token)).map(lambda t: t[1] if t[0] else []))
    return Scheme(choices, lambda body, chosen: _grafana_headers(with_stamp, body, chosen))


# --- the rest of the request ----------------------------------------------------------------------

HEADER_NAMES = st.one_of(st.sampled_from(["X-Request-ID", "Content-Length-Extra", "X-Forwarded-For", "Accept",
                                          "User-Agent", "Cookie", "X-Auth-Token", "content-type", "AUTHORIZATION"]),
                         st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,39}", fullmatch=True))
# Printable ASCII without surrounding blanks (an HTTP client strips or refuses those); up to 9000
# bytes, past gunicorn's 8190-byte limit on a header line.
HEADER_VALUES = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip),
                          st.integers(100, 9000).map(lambda n: "v" * n))
EXTRA_HEADERS = st.tuples(st.integers(0, 9), st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), min_size=1, max_size=4)) \
    .map(lambda t: t[1] if t[0] < 4 else [])


def _path(route: str) -> st.SearchStrategy[str]:
    odd = [route + "/", route.upper(), "/" + route, route + "?x=1&x=2", route + "%00", route + "/..",
           route + "?" + "q" * 3000, "/" + route.lstrip("/").replace("/", "%2F")]
    return mostly(route, odd, tenths=9)


UNKNOWN_PATHS = st.one_of(
    st.sampled_from(["/alerts", "/alerts/", "/slack", "/health/x", "/alerts/prometheus", "/_sandbox/stats",
                     "/%2e%2e/", "/" + "a" * 4000, "/%ff%fe", "/alerts/alertmanager/x", "/.env"]),
    st.lists(st.from_regex(r"[A-Za-z0-9._~%-]{1,20}", fullmatch=True), min_size=1, max_size=4)
    .map(lambda parts: "/" + "/".join(parts)),
)


def requests(*, paths: st.SearchStrategy[str], bodies: st.SearchStrategy[bytes], scheme: Scheme,
             method: str = "POST", content_type: str | None = "application/json") -> st.SearchStrategy[Hostility]:
    """Requests meant for one route: mostly its own method, content type and path."""
    return st.builds(_request, mostly(method, METHODS, tenths=9), paths, bodies, st.just(scheme), scheme.choices,
                     mostly(content_type, CONTENT_TYPES), EXTRA_HEADERS)


def _request(method: str, path: str, body: bytes, scheme: Scheme, chosen: Any, content_type: str | None,
             extra: list[tuple[str, str]]) -> Hostility:
    headers = scheme.headers(body, chosen) + ([("Content-Type", content_type)] if content_type is not None else [])
    return Hostility(method, path, headers + extra, body)


def _copy_requests(route: str, deployment: str) -> st.SearchStrategy[Hostility]:
    token = bearer(SECRETS.copy_bearer_token)
    if route == "/health":
        chosen = requests(paths=_path(route), bodies=hostile_bodies(1024), scheme=token, method="GET")
    else:
        chosen = requests(paths=st.one_of(_path("/"), UNKNOWN_PATHS), bodies=json_bodies(COPY_JOB, LIMITS["copy"]),
                          scheme=token)
    return chosen.map(lambda request: replace(request, deployment=deployment))


def for_route(deployment: str, route: str) -> st.SearchStrategy[Hostility]:
    """The requests aimed at one route of one deployment (see ``tests.security.served``)."""
    if deployment == "copy":  # both deployments of copy, one request each
        return st.one_of(*[_copy_requests(route, name) for name in ("copy", "copy-queue")])
    token = bearer(SECRETS.bearer_token)
    if route == "/health":  # no credentials needed: any sent must not matter either
        return requests(paths=_path(route), bodies=hostile_bodies(1024), scheme=token, method="GET")
    if route == "unknown":
        return requests(paths=UNKNOWN_PATHS, bodies=json_bodies(DISPATCH_REQUEST, LIMITS["/"]), scheme=token)
    if route == "/":
        return requests(paths=_path(route), bodies=json_bodies(DISPATCH_REQUEST, LIMITS[route]), scheme=token)
    if route == "/alerts/alertmanager":
        return requests(paths=_path(route), bodies=json_bodies(ALERT_NOTICE, LIMITS[route]), scheme=token)
    if route == "/alerts/grafana":
        scheme = {"hooks": grafana(with_stamp=True), "private": grafana(with_stamp=False)}.get(deployment, token)
        return requests(paths=_path(route), bodies=json_bodies(ALERT_NOTICE, LIMITS[route]), scheme=scheme)
    if route == "/slack/command":
        return requests(paths=_path(route), bodies=SLACK_BODY, scheme=SLACK,
                        content_type="application/x-www-form-urlencoded")
    raise ValueError(f"no strategy for {deployment} {route}")
