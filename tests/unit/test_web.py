import base64
import json

import pytest

from shared.errors import (
    InvalidJSON,
    PayloadTooLarge,
    RequestError,
    ScalewayNotFound,
    Unauthorized,
    UnsupportedMediaType,
)
from shared.web import check_bearer, error_response, parse_event, parse_json_object


def event(body="", **extra):
    return {"httpMethod": "POST", "path": "/", "headers": {"Content-Type": "application/json"},
            "body": body, **extra}


def test_headers_are_case_insensitive_and_body_is_bytes():
    req = parse_event(event('{"a": 1}', headers={"X-Thing": "v"}), max_body=100)
    assert req.header("x-thing") == "v" and req.header("X-THING") == "v"
    assert req.body == b'{"a": 1}'


def test_base64_bodies_are_decoded_and_invalid_base64_is_refused():
    good = parse_event(event(base64.b64encode(b'{"x":2}').decode(), isBase64Encoded=True), max_body=100)
    assert parse_json_object(good) == {"x": 2}
    with pytest.raises(RequestError):
        parse_event(event("not base64!!", isBase64Encoded=True), max_body=100)


def test_oversized_bodies_are_refused_before_decoding():
    with pytest.raises(PayloadTooLarge):
        parse_event(event("x" * 101), max_body=100)


@pytest.mark.parametrize("body,exc", [("{", InvalidJSON), ("[1]", InvalidJSON), ('"s"', InvalidJSON)])
def test_json_object_required(body, exc):
    with pytest.raises(exc):
        parse_json_object(parse_event(event(body), max_body=100))


def test_wrong_content_type_is_415():
    req = parse_event(event("a=b", headers={"content-type": "application/x-www-form-urlencoded"}), max_body=100)
    with pytest.raises(UnsupportedMediaType):
        parse_json_object(req)


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret", "bearer", "s3cret"])
def test_bearer_check_refuses(header):
    headers = {"Authorization": header} if header else {}
    req = parse_event(event(headers=headers), max_body=10)
    with pytest.raises(Unauthorized):
        check_bearer(req, ["s3cret", "other"])


def test_bearer_check_accepts_any_configured_token_and_no_tokens_means_no_access():
    req = parse_event(event(headers={"authorization": "Bearer other"}), max_body=10)
    check_bearer(req, ["s3cret", "other"])
    with pytest.raises(Unauthorized):
        check_bearer(req, [])


def test_error_response_maps_status_and_code_without_echoing_input():
    resp = error_response(ScalewayNotFound("backup not found or not allowed", api_status=403))
    assert resp["statusCode"] == 404
    assert json.loads(resp["body"]) == {"error": {"code": "not_found_or_not_allowed",
                                                  "message": "backup not found or not allowed"}}
    assert error_response(Unauthorized("no"))["headers"]["WWW-Authenticate"] == "Bearer"


def test_unexpected_errors_are_opaque_500s():
    resp = error_response(RuntimeError("secret detail"))
    assert resp["statusCode"] == 500 and "secret" not in resp["body"]


@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 5000, "[" * 5000 + "]" * 5000])
def test_json_nested_past_the_interpreters_limit_is_invalid_json_not_a_crash(body):
    with pytest.raises(InvalidJSON) as caught:
        parse_json_object(parse_event(event(body), max_body=100_000))
    assert caught.value.message == "the body nests too deeply"
