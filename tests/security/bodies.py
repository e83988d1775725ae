"""Hostile request bodies, as hypothesis strategies: random bytes, invalid UTF-8, deep nesting,
huge and non-finite numbers, sizes around a route's limit, any JSON, and near-valid bodies of
each route's own model (a valid body with one defect), so that many requests get past the
parsers and the checks behind them are exercised too.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from sandbox.state import seeded_uuid

PROJECT_ID = seeded_uuid(0, "project")  # the sandbox's project: requests naming it may be accepted
ELSEWHERE = "http://127.0.0.1:9/elsewhere"  # a URL in fields that could hold one (nothing listens)
LIMITS = {"/": 64 * 1024, "/alerts/alertmanager": 1024 * 1024, "/alerts/grafana": 1024 * 1024,
          "/slack/command": 16 * 1024, "copy": 256 * 1024}


def mostly(usual: Any, others: list[Any], tenths: int = 8) -> st.SearchStrategy[Any]:
    """``usual`` about ``tenths`` times in ten, else one of ``others``."""
    return st.tuples(st.integers(0, 9), st.sampled_from(others)).map(lambda t: usual if t[0] < tenths else t[1])


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=40), st.just(10**300), st.just(-(10**300)), st.just(ELSEWHERE))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def dumps(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity included."""
    return json.dumps(value, allow_nan=True).encode()


def _nested(depth: int, opener: str, closed: bool) -> bytes:
    closer = {"[": "]", '{"a":': "}", '{"alerts":': "}"}[opener]
    return (opener * depth + ("1" + closer * depth if closed else "")).encode()


NUMBERS = st.one_of(
    st.sampled_from([b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"-0", b"1e-999",
                     b"0x10", b"01", b"1.", b".5", b"+1"]),
    st.integers(300, 5000).map(lambda n: b"9" * n),  # past 4300 digits Python refuses to parse it
)


def hostile_bodies(limit: int) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=512),
        st.tuples(st.binary(max_size=64), st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                                            b"\x00", b"\xef\xbb\xbf"]), st.binary(max_size=64))
        .map(b"".join),
        st.builds(_nested, st.integers(50, min(20_000, limit // 6)), st.sampled_from(["[", '{"a":', '{"alerts":']),
                  st.booleans()),
        st.builds(lambda key, number: b'{"%s": %s}' % (key.encode(), number),
                  st.sampled_from(["max_age_hours", "size", "attempt", "alerts", "x"]), NUMBERS),
        ANY_JSON.map(dumps),
        st.sampled_from([limit - 1, limit, limit + 1]).map(lambda n: (b'{"x": "' + b"a" * n)[:n]),
    )


REMOVE = object()  # a defect that takes the field away (only where a field is required)
WRONG_VALUES = st.one_of(SCALARS, st.sampled_from(
    [[], {}, [None], "", " ", "\u0000", "x" * 300, "fr-par/../x", "FR-PAR", "xx-abc", "not-a-uuid", -1, 0, 2**63,
     "9999-12-31T23:59:59Z", ["shop"] * 1001, {"database_name": ["shop"]}]))
DEFECTS = st.one_of(WRONG_VALUES, st.just(REMOVE))


def _with_defect(valid: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``valid`` with the field at ``path`` set to ``value`` (or removed, or added when new)."""
    body = json.loads(json.dumps(valid))
    where = body
    for step in path[:-1]:
        if isinstance(where, dict) and step in where or _has_index(where, step):
            where = where[step]
        else:
            return body
    last = path[-1]
    if isinstance(where, dict):
        if value is REMOVE:
            where.pop(last, None)
        else:
            where[last] = value
    elif _has_index(where, last):
        where[last] = None if value is REMOVE else value
    return body


def _has_index(where: Any, step: Any) -> bool:
    return isinstance(where, list) and isinstance(step, int) and step < len(where)


def near_valid(valid: st.SearchStrategy[Any], paths: list[tuple[Any, ...]],
               defects: st.SearchStrategy[Any] = DEFECTS) -> st.SearchStrategy[Any]:
    """A valid body with one defect 19 times in 20, else the valid body itself: most requests are
    refused by the check of the one field that is wrong, and a few are accepted (an accepted
    request does real work, a dispatch or a copy, which costs a thousand refusals)."""
    defective = st.builds(_with_defect, valid, st.sampled_from(paths), defects)
    return st.integers(0, 19).flatmap(lambda n: defective if n < 19 else valid)


UNKNOWN_FIELDS = [("surprise",), ("download_url",), ("__proto__",), ("Dry_Run",), ("",)]
DISPATCH_FIELDS = ["database_ids", "database_names", "project_id", "region", "max_age_hours", "dry_run", "force"]
DISPATCH_REQUEST = near_valid(st.fixed_dictionaries({}, optional={
    "database_ids": st.lists(st.uuids().map(str), max_size=2),
    "database_names": st.lists(st.sampled_from(["shop", "blog", "no-such-db"]), max_size=2),
    "project_id": st.sampled_from([PROJECT_ID, PROJECT_ID.upper()]),
    "region": st.just("fr-par"),
    "max_age_hours": st.floats(0.5, 720),
    "dry_run": st.just(True),
    "force": st.booleans(),
}), [(name,) for name in DISPATCH_FIELDS] + [("database_ids", 0), ("database_names", 0)] + UNKNOWN_FIELDS,
    WRONG_VALUES)  # every field is optional: taking one away leaves a valid request

ALERT = st.fixed_dictionaries({
    "status": st.sampled_from(["firing", "resolved"]),
    "labels": st.fixed_dictionaries({"alertname": st.just("BackupNow")}, optional={
        "database_name": st.sampled_from(["shop", "blog", "no-such-db"]), "database_id": st.uuids().map(str)}),
}, optional={"annotations": st.just({"summary": "copy now"}), "startsAt": st.just("2026-11-26T10:00:00Z"),
             "generatorURL": st.just(ELSEWHERE), "fingerprint": st.text("0123456789abcdef", max_size=16),
             "silenceURL": st.just(ELSEWHERE), "values": st.just({"B0": 1.0})})
# The fields an alert route reads (the others it must ignore, so a defect there is no defect).
ALERT_FIELDS_READ = [("alerts",), ("status",), ("alerts", 0), ("alerts", 0, "status"), ("alerts", 0, "labels"),
                     ("alerts", 0, "labels", "alertname"), ("alerts", 0, "fingerprint"), ("alerts", 1, "labels")]
ALERT_NOTICE = near_valid(st.fixed_dictionaries({"alerts": st.lists(ALERT, min_size=1, max_size=3)}, optional={
    "version": st.sampled_from(["4", "1"]), "status": st.sampled_from(["firing", "resolved"]),
    "receiver": st.just("sdb-backup"), "externalURL": st.just(ELSEWHERE), "groupLabels": st.just({}),
    "truncatedAlerts": st.just(0), "orgId": st.just(1), "title": st.just("[FIRING:1]"),
}), ALERT_FIELDS_READ)

SLACK_TEXTS = ["help", "", "copy", "plan all shop", "reboot", "plan " + "x" * 300, "copy " + "x " * 1001,
               "copy shop", "plan no-such-db"]  # most get an answer only; the last two start work
SLACK_FORM = near_valid(st.fixed_dictionaries({
    "command": st.just("/sdb-backup"), "text": st.sampled_from(SLACK_TEXTS), "user_id": st.just("U0001"),
}, optional={"team_id": st.just("T0001"), "response_url": st.just(ELSEWHERE), "trigger_id": st.just("1.2.3")}),
    [("command",), ("text",), ("user_id",)])  # what the route reads (it ignores the rest)


def _form_bytes(form: Any, junk: bytes, repeat: bool) -> bytes:
    if not isinstance(form, dict):
        return dumps(form)
    body = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}).encode()
    if repeat and form:
        body += b"&" + body  # every field twice
    return body + junk


_SLACK_FORMS = st.builds(_form_bytes, SLACK_FORM, mostly(b"", [b"&", b"&&", b"&=x", b"&%zz", b"&a=%ff", b"&\xff"]),
                         mostly(False, [True], tenths=9))
_SLACK_HOSTILE = hostile_bodies(LIMITS["/slack/command"])
SLACK_BODY = st.integers(0, 9).flatmap(lambda n: _SLACK_FORMS if n < 7 else _SLACK_HOSTILE)


def copy_job_template() -> dict[str, Any]:
    """A job that validates, for a backup the API does not know: accepted, it copies nothing."""
    return {"version": 1, "run_id": "fuzz", "backup_id": "00000000-0000-4000-8000-00000000f022",
            "database_id": "00000000-0000-4000-8000-00000000da7a", "database_name": "shop", "project_id": PROJECT_ID,
            "region": "fr-par", "backup_created_at": "2026-11-26T03:00:00Z", "size": 1000,
            "object_key": "fuzz/shop.dump", "attempt": 1, "deadline": "2099-01-01T00:00:00Z",
            "requested_by": "fuzz", "force": False}


# The job's fields with a shape to check (free text such as database_name takes any string up to its limit).
COPY_FIELDS_CHECKED = ["version", "backup_id", "database_id", "project_id", "region", "backup_created_at",
                       "attempt", "deadline", "force"]
CONTINUATION = {"upload_id": "x", "part_size": 5 * 1024 * 1024,
                "parts": [{"part_number": 1, "etag": "e", "size": 1}]}
COPY_JOB = near_valid(
    st.builds(lambda extra: {**copy_job_template(), **extra},
              st.fixed_dictionaries({}, optional={"continuation": st.just(CONTINUATION),
                                                  "reply_to": st.just(ELSEWHERE)})),
    [(name,) for name in COPY_FIELDS_CHECKED] + [("continuation", "parts"), ("continuation", "part_size"),
                                                ("continuation", "upload_id")] + UNKNOWN_FIELDS)


def json_bodies(model: st.SearchStrategy[Any], limit: int) -> st.SearchStrategy[bytes]:
    """Mostly near-valid JSON of the route's model; else cut short, or anything hostile."""
    near = model.map(dumps)
    truncated = st.builds(lambda body, cut: body[: max(0, len(body) - cut)], near, st.integers(1, 20))
    hostile = hostile_bodies(limit)
    return st.integers(0, 9).flatmap(lambda n: near if n < 6 else (truncated if n < 7 else hostile))
