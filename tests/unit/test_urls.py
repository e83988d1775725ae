"""URL policy: which hosts may be fetched, and how a URL may be shown."""

from __future__ import annotations

import pytest

from shared.urls import host_allowed, is_host_pattern, redact_text, redact_url

LINK = ("https://s3.fr-par.scw.cloud/bucket/id/b.custom?X-Amz-Credential=SCWKEY%2F2025"
        "&X-Amz-Signature=197c6051bd")


def test_redact_url_drops_query_and_userinfo() -> None:
    assert redact_url(LINK) == "https://s3.fr-par.scw.cloud/bucket/id/b.custom?<redacted>"
    assert redact_url("https://user:pw@host:8443/p") == "https://host:8443/p"
    assert redact_url("https://host:99999/p") == "<unparseable url>"


def test_redact_text_redacts_every_url_in_a_message() -> None:
    text = redact_text(f"GET {LINK} failed, then {LINK}")
    assert "Signature" not in text and "SCWKEY" not in text and text.count("?<redacted>") == 2


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://s3.fr-par.scw.cloud/b/k?sig=1", True),
        ("https://S3.FR-PAR.SCW.CLOUD/b/k", True),
        ("https://bucket.s3.nl-ams.scw.cloud/k", True),
        ("https://s3.fr-par.scw.cloud.evil.test/k", False),
        ("https://evilscw.cloud/k", False),
        ("ftp://s3.fr-par.scw.cloud/k", False),
        ("http://127.0.0.1:8080/sandbox-exports/x", True),
        ("not a url", False),
    ],
)
def test_host_allowlist(url: str, allowed: bool) -> None:
    patterns = ["s3.fr-par.scw.cloud", "*.s3.nl-ams.scw.cloud", "127.0.0.1"]
    assert host_allowed(url, patterns) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/sandbox-exports/x", True),
        ("http://127.0.0.1:8081/anything", False),  # the host is allowed, this port is not
        ("http://127.0.0.1/x", False),  # port 80
        ("https://s3.fr-par.scw.cloud/b/k", True),  # https: port 443
        ("https://s3.fr-par.scw.cloud:8443/b/k", False),
        ("https://bucket.s3.nl-ams.scw.cloud:443/k", True),
        ("http://bucket.s3.nl-ams.scw.cloud/k", False),  # http: port 80
    ],
)
def test_host_allowlist_with_pinned_ports(url: str, allowed: bool) -> None:
    patterns = ["127.0.0.1:8080", "s3.fr-par.scw.cloud:443", "*.s3.nl-ams.scw.cloud:443"]
    assert host_allowed(url, patterns) is allowed


@pytest.mark.parametrize(("pattern", "valid"), [
    ("s3.fr-par.scw.cloud", True), ("*.s3.fr-par.scw.cloud", True), ("127.0.0.1", True), ("localhost", True),
    ("https://s3.fr-par.scw.cloud", False), ("s3.fr-par.scw.cloud/path", False), ("host:8080", True), ("*.scw.cloud:443", True),
    ("host:", False), ("host:port", False), ("host:123456", False),
    ("*", False), ("a.*.b", False), ("", False), ("exa mple.com", False),
])
def test_host_patterns(pattern: str, valid: bool) -> None:
    assert is_host_pattern(pattern) is valid
