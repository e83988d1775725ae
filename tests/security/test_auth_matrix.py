"""Every route x every scheme it accepts x every way a credential can be wrong: 401, no effect.

Each route gets a request that would do real work if accepted (export every backup, copy one,
start a copy from an alert or a slash command). A positive control per route and scheme sends
it with the right credential and shows the work happening, so a 401 below means something.
A variant a scheme cannot have is left out (``VARIANTS``): a bearer token or a basic-auth
password carries no time, so it can't be expired or come from the future, and a Grafana HMAC
without a timestamp header signs no time either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from tests.fixtures.secrets import SECRETS
from tests.security.served import GRAFANA_TIMESTAMP_HEADER, Hostile

Headers = list[tuple[str, str]]
STATIC = ["missing", "wrong", "forged", "replayed", "wrong-case", "duplicated-header"]
TIMED = STATIC[:4] + ["expired", "future"] + STATIC[4:]
VARIANTS = {"bearer": STATIC, "basic": STATIC, "grafana-hmac": STATIC, "grafana-hmac-ts": TIMED, "slack-v0": TIMED}
ELSEWHERE_TOKEN = {"copy": SECRETS.bearer_token}  # a token that is good somewhere else: "replayed" here


@dataclass(frozen=True)
class Route:
    deployment: str
    path: str
    scheme: str
    body: Callable[[Hostile], bytes]
    content_type: str = "application/json"

    @property
    def token(self) -> str:
        return SECRETS.copy_bearer_token if self.deployment == "copy" else SECRETS.bearer_token

    @property
    def label(self) -> str:
        return f"{self.deployment}:{self.path}:{self.scheme}"


def _alert(hostile: Hostile) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "BackupNow", "database_name": "blog"}}
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def _slack_form(text: str = "copy blog") -> bytes:
    return (f"team_id=T0001&user_id=U0001&command=%2Fsdb-backup&text={text.replace(' ', '+')}"
            f"&trigger_id=1.2.3").encode()


ROUTES = [
    Route("private", "/", "bearer", lambda h: b'{"force": true}'),  # without a token: beyond the schedule
    Route("hooks", "/", "bearer", lambda h: b'{"force": true}'),
    *[Route(d, "/alerts/alertmanager", s, _alert) for d in ("private", "hooks") for s in ("bearer", "basic")],
    Route("grafana-token", "/alerts/grafana", "bearer", _alert),
    Route("grafana-token", "/alerts/grafana", "basic", _alert),
    Route("private", "/alerts/grafana", "grafana-hmac", _alert),
    Route("hooks", "/alerts/grafana", "grafana-hmac-ts", _alert),
    *[Route(d, "/slack/command", "slack-v0", lambda h: _slack_form(), "application/x-www-form-urlencoded")
      for d in ("private", "hooks")],
    Route("copy", "/", "bearer", lambda h: json.dumps(h.real_job("shop")).encode()),
]


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"sender:{password}".encode()).decode()


def _forge(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")  # same length, one character off


def token_headers(route: Route, variant: str) -> Headers:
    good, other = route.token, ELSEWHERE_TOKEN.get(route.deployment, SECRETS.copy_bearer_token)
    value = {"bearer": lambda t: f"Bearer {t}", "basic": _basic}[route.scheme]
    wrong = "bearer-" + "x" * 24
    return {
        "right": [("Authorization", value(good))],
        "missing": [],
        "wrong": [("Authorization", value(wrong))],
        "forged": [("Authorization", value(_forge(good)))],
        "replayed": [("Authorization", value(other))],
        "wrong-case": [("Authorization", value(good.swapcase()))],
        "duplicated-header": [("Authorization", value(good)), ("Authorization", value(wrong))],
    }[variant]


def slack_headers(body: bytes, variant: str, now: int) -> tuple[bytes, Headers]:
    def signed(secret: str, stamp: int, payload: bytes) -> str:
        return "v0=" + hmac.new(secret.encode(), b"v0:%d:" % stamp + payload, hashlib.sha256).hexdigest()

    secret, stamp = SECRETS.slack_signing_secret, now
    earlier = _slack_form("help")  # a request the attacker saw: its headers, this body
    cases = {
        "right": (stamp, signed(secret, stamp, body)),
        "wrong": (stamp, signed(SECRETS.grafana_secret, stamp, body)),
        "forged": (stamp, "v0=" + hashlib.sha256(body).hexdigest()),
        "replayed": (stamp, signed(secret, stamp, earlier)),
        "expired": (now - 301, signed(secret, now - 301, body)),
        "future": (now + 301, signed(secret, now + 301, body)),
        "wrong-case": (stamp, signed(secret, stamp, body).upper()),
    }
    if variant == "missing":
        return body, []
    if variant == "duplicated-header":
        return body, [("X-Slack-Request-Timestamp", str(stamp)), ("X-Slack-Signature", signed(secret, stamp, body)),
                      ("X-Slack-Signature", "v0=" + "0" * 64)]
    stamp, signature = cases[variant]
    return body, [("X-Slack-Request-Timestamp", str(stamp)), ("X-Slack-Signature", signature)]


def grafana_headers(body: bytes, variant: str, now: int, with_stamp: bool) -> Headers:
    def signed(secret: str, stamp: int, payload: bytes) -> str:
        message = (b"%d:" % stamp + payload) if with_stamp else payload
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    secret, name = SECRETS.grafana_secret, "X-Grafana-Alerting-Signature"
    stamp = {"expired": now - 301, "future": now + 301}.get(variant, now)
    signature = {
        "right": signed(secret, stamp, body),
        "wrong": signed(SECRETS.slack_signing_secret, stamp, body),
        "forged": hashlib.sha256(body).hexdigest(),
        "replayed": signed(secret, stamp, body.replace(b"firing", b"resolved")),
        "expired": signed(secret, stamp, body),
        "future": signed(secret, stamp, body),
        "wrong-case": signed(secret.swapcase(), stamp, body),
    }.get(variant)
    headers = [(GRAFANA_TIMESTAMP_HEADER, str(stamp))] if with_stamp else []
    if variant == "duplicated-header":
        return headers + [(name, signed(secret, stamp, body)), (name, "0" * 64)]
    return headers + ([(name, signature)] if signature else [])


def request_for(route: Route, hostile: Hostile, variant: str) -> tuple[bytes, Headers]:
    body, now = route.body(hostile), int(time.time())
    if route.scheme in ("bearer", "basic"):
        headers = token_headers(route, variant)
    elif route.scheme == "slack-v0":
        body, headers = slack_headers(body, variant, now)
    else:
        headers = grafana_headers(body, variant, now, with_stamp=route.scheme == "grafana-hmac-ts")
    return body, headers + [("Content-Type", route.content_type)]


def send(hostile: Hostile, route: Route, variant: str, reverse: bool = False) -> Any:
    body, headers = request_for(route, hostile, variant)
    headers = headers[::-1] if reverse else headers  # a duplicated header, the other way round
    return hostile.http.post(hostile.urls[route.deployment].rstrip("/") + route.path, content=body, headers=headers)


CASES = [(route, variant) for route in ROUTES for variant in VARIANTS[route.scheme]]


@pytest.mark.parametrize(("route", "variant"), CASES, ids=[f"{r.label}:{v}" for r, v in CASES])
def test_a_bad_credential_is_401_and_changes_nothing(hostile, route, variant):
    before = hostile.effects()

    orders = (False, True) if variant == "duplicated-header" else (False,)
    answers = [send(hostile, route, variant, reverse) for reverse in orders]

    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    assert hostile.effects() == before


@pytest.mark.parametrize("route", ROUTES, ids=[r.label for r in ROUTES])
def test_the_right_credential_does_the_work(hostile, route):
    before = hostile.effects()

    answer = send(hostile, route, "right")

    assert answer.status_code == 200, answer.text
    after = hostile.effects()
    if route.deployment == "copy":
        assert answer.json()["outcome"] == "copied" and after.notifications == before.notifications + 1
    else:
        assert after.exports > before.exports and after.queued > before.queued
