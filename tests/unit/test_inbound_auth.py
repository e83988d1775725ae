"""Slack and Grafana signatures on raw bodies, against Slack's documented example."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared.errors import Unauthorized
from shared.dispatch.signatures import grafana_signature, verify_grafana, verify_slack
from shared.web import Request

# Slack's documented example request (docs: "Verifying requests from Slack").
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_STAMP = 1531420618
SLACK_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
              b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
              b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
              b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def request(body: bytes, **headers: str) -> Request:
    return Request("POST", "/", {k.lower().replace("_", "-"): v for k, v in headers.items()}, body)


def slack_request(body: bytes = SLACK_BODY, stamp: str = str(SLACK_STAMP), signature: str = SLACK_SIGNATURE) -> Request:
    return request(body, x_slack_request_timestamp=stamp, x_slack_signature=signature)


def test_slack_documented_example_is_valid():
    verify_slack(slack_request(), SLACK_SECRET, clock=lambda: SLACK_STAMP + 10)


@pytest.mark.parametrize("req, now, message", [
    (slack_request(), SLACK_STAMP + 301, "300 s away"),
    (slack_request(), SLACK_STAMP - 301, "300 s away"),
    (slack_request(stamp="soon"), SLACK_STAMP, "not a number"),
    (slack_request(stamp=""), SLACK_STAMP, "not a number"),
    (slack_request(stamp="\u00b2"), SLACK_STAMP, "not a number"),  # "²".isdigit() is True
    (slack_request(stamp="\u0661\u0665\u0663"), SLACK_STAMP, "not a number"),  # Arabic-Indic digits
    (slack_request(stamp="9" * 400), SLACK_STAMP, "not a number"),  # too large to compare with a float
    (slack_request(stamp="-1531420618"), SLACK_STAMP, "not a number"),
    (slack_request(signature="a2114d57"), SLACK_STAMP, "not a v0 signature"),
    (slack_request(signature=SLACK_SIGNATURE[:-1] + "a"), SLACK_STAMP, "does not match"),
    (slack_request(body=SLACK_BODY + b"&text=copy+all"), SLACK_STAMP, "does not match"),
    (slack_request(body=b"\xff\xfe"), SLACK_STAMP, "does not match"),
    (slack_request(stamp=str(SLACK_STAMP + 1)), SLACK_STAMP, "does not match"),
])
def test_slack_refusals(req, now, message):
    with pytest.raises(Unauthorized) as caught:
        verify_slack(req, SLACK_SECRET, clock=lambda: now)

    assert message in caught.value.message


def test_slack_another_secret_is_refused_and_no_secret_means_disabled():
    with pytest.raises(Unauthorized):
        verify_slack(slack_request(), "another", clock=lambda: SLACK_STAMP)
    with pytest.raises(Unauthorized) as caught:
        verify_slack(slack_request(), None, clock=lambda: SLACK_STAMP)
    assert "SLACK_SIGNING_SECRET" in caught.value.message


GRAFANA_HEADERS = ["X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature"]


def test_grafana_signature_is_hex_hmac_sha256_of_the_body_or_stamp_colon_body():
    assert grafana_signature("k", b"{}") == hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    assert grafana_signature("k", b"{}", "1700000000") == hmac.new(b"k", b"1700000000:{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("header", GRAFANA_HEADERS)
def test_grafana_either_header_name(header):
    body = b'{"alerts": []}'
    verify_grafana(request(body, **{header: grafana_signature("k", body)}), "k",
                   signature_headers=GRAFANA_HEADERS, timestamp_header=None)


def test_grafana_uppercase_and_prefixed_hex_are_accepted():
    body = b"{}"
    signed = "sha256=" + grafana_signature("k", body).upper()
    verify_grafana(request(body, **{"X-Grafana-Alerting-Signature": signed}), "k",
                   signature_headers=GRAFANA_HEADERS, timestamp_header=None)


@pytest.mark.parametrize("headers, now, message", [
    ({}, 1700000000, "is missing"),
    ({"X-Stamp": "1700000000", "X-Grafana-Alerting-Signature": "00"}, 1700000000, "does not match"),
    ({"X-Stamp": "1700000000", "X-Grafana-Alerting-Signature": grafana_signature("k", b"{}")}, 1700000000,
     "does not match"),  # a timestamp is configured: the body alone is not what was signed
    ({"X-Stamp": "1699999000", "X-Grafana-Alerting-Signature": grafana_signature("k", b"{}", "1699999000")},
     1700000000, "300 s away"),
    ({"X-Grafana-Alerting-Signature": grafana_signature("k", b"{}", "1700000000")}, 1700000000, "X-Stamp"),
])
def test_grafana_refusals(headers, now, message):
    with pytest.raises(Unauthorized) as caught:
        verify_grafana(request(b"{}", **headers), "k", signature_headers=GRAFANA_HEADERS,
                       timestamp_header="X-Stamp", clock=lambda: now)

    assert message in caught.value.message


def test_grafana_millisecond_timestamps_are_read_as_seconds():
    stamp = "1700000000123"
    req = request(b"{}", **{"X-Stamp": stamp, "X-Grafana-Alerting-Signature": grafana_signature("k", b"{}", stamp)})
    verify_grafana(req, "k", signature_headers=GRAFANA_HEADERS, timestamp_header="X-Stamp", clock=lambda: 1700000001)
