"""The DispatchRequest model and who may ask for what."""

from __future__ import annotations

import json

import pytest

from shared.errors import InvalidJSON, InvalidRequest, Unauthorized, UnsupportedMediaType
from shared.dispatch.request import DispatchRequest, parse_dispatch_request, read_dispatch_request
from shared.settings import Settings
from shared.web import Request

PROJECT = "11111111-1111-4111-8111-111111111111"
DB = "22222222-2222-4222-8222-222222222222"
SETTINGS = Settings(scw_default_project_id=PROJECT, scw_default_region="fr-par", max_age_hours=36,
                    http_auth_tokens="tok-one-0123456789abcdef,tok-two-0123456789abcdef")


def http(body: object, headers: dict[str, str] | None = None) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request("POST", "/", {k.lower(): v for k, v in (headers or {}).items()}, raw)


def test_empty_object_means_every_database_with_defaults():
    request = parse_dispatch_request({})
    assert request.selects_all and not request.dry_run and not request.force
    assert request.effective_max_age(SETTINGS) == 36
    assert parse_dispatch_request({"max_age_hours": 12}).effective_max_age(SETTINGS) == 12


def test_full_request_parses():
    request = parse_dispatch_request({"database_ids": [DB.upper()], "database_names": ["orders"],
                                      "project_id": PROJECT, "region": "nl-ams", "max_age_hours": 48,
                                      "dry_run": True, "force": True})
    assert str(request.database_ids[0]) == DB and request.database_names == ["orders"]
    assert not request.selects_all and request.region == "nl-ams"


MALFORMED = [
    ({"scope": "project"}, ["scope"]),
    ({"database_ids": ["not-a-uuid"]}, ["database_ids"]),
    ({"database_ids": "22222222-2222-4222-8222-222222222222"}, ["database_ids"]),
    ({"database_ids": [DB] * 1001}, ["database_ids"]),
    ({"database_names": [""]}, ["database_names"]),
    ({"database_names": ["x" * 256]}, ["database_names"]),
    ({"database_names": ["bad\nname"]}, ["database_names"]),
    ({"database_names": [1]}, ["database_names"]),
    ({"project_id": "p"}, ["project_id"]),
    ({"region": "mars-1"}, ["region"]),
    ({"region": "FR-PAR"}, ["region"]),
    ({"max_age_hours": 0}, ["max_age_hours"]),
    ({"max_age_hours": 100000}, ["max_age_hours"]),
    ({"max_age_hours": "soon"}, ["max_age_hours"]),
    ({"dry_run": "perhaps"}, ["dry_run"]),
    ({"force": [], "extra": 1}, ["extra", "force"]),
]


@pytest.mark.parametrize("body,fields", MALFORMED, ids=[str(sorted(b)) + str(i) for i, (b, _) in enumerate(MALFORMED)])
def test_malformed_requests_name_the_fields_not_the_values(body, fields):
    with pytest.raises(InvalidRequest) as info:
        parse_dispatch_request(body)
    assert info.value.status == 422 and info.value.code == "invalid_request"
    assert info.value.details == {"fields": fields}
    rendered = json.dumps(info.value.to_dict())
    assert "not-a-uuid" not in rendered and "perhaps" not in rendered and "mars-1" not in rendered


def test_known_and_future_regions_are_accepted():
    for region in ("fr-par", "nl-ams", "pl-waw", "it-mil"):
        assert DispatchRequest(region=region).region == region


# --- who may ask ------------------------------------------------------------------------------

def test_valid_bearer_may_ask_anything():
    body = {"force": True, "project_id": "33333333-3333-4333-8333-333333333333", "max_age_hours": 200}
    request, trigger = read_dispatch_request(http(body, {"Authorization": "Bearer tok-two-0123456789abcdef"}), SETTINGS)
    assert trigger == "http" and request.force


@pytest.mark.parametrize("header", ["Bearer wrong", "Basic tok-one-0123456789abcdef", "tok-one-0123456789abcdef", "Bearer ", ""])
def test_bad_authorization_is_refused_even_for_a_scheduled_body(header):
    with pytest.raises(Unauthorized):
        read_dispatch_request(http({}, {"Authorization": header}), SETTINGS)


def test_bad_token_is_refused_before_the_body_is_read():
    with pytest.raises(Unauthorized):
        read_dispatch_request(http(b"{not json", {"Authorization": "Bearer wrong"}), SETTINGS)


def test_bearer_is_refused_when_no_tokens_are_configured():
    settings = SETTINGS.model_copy(update={"http_auth_tokens": []})
    with pytest.raises(Unauthorized):
        read_dispatch_request(http({}, {"Authorization": "Bearer anything"}), settings)


@pytest.mark.parametrize("body", [{}, {"dry_run": False, "force": False}, {"dry_run": True},
                                  {"database_names": ["orders"]}, {"project_id": PROJECT, "region": "fr-par"},
                                  {"max_age_hours": 24}])
def test_without_authorization_the_schedule_scope_is_allowed(body):
    request, trigger = read_dispatch_request(http(body), SETTINGS)
    assert trigger == "cron"


@pytest.mark.parametrize("body", [{"force": True}, {"project_id": "33333333-3333-4333-8333-333333333333"},
                                  {"region": "nl-ams"}, {"max_age_hours": 37}])
def test_without_authorization_anything_beyond_the_schedule_is_refused(body):
    with pytest.raises(Unauthorized):
        read_dispatch_request(http(body), SETTINGS)


def test_body_format_errors():
    with pytest.raises(InvalidJSON):
        read_dispatch_request(http(b"{oops"), SETTINGS)
    with pytest.raises(InvalidJSON):
        read_dispatch_request(http(b"[1, 2]"), SETTINGS)
    with pytest.raises(UnsupportedMediaType):
        read_dispatch_request(http(b"a=b", {"Content-Type": "application/x-www-form-urlencoded"}), SETTINGS)
