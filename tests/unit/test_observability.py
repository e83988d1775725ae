import io
import json
import logging

from shared.observability import JsonFormatter, correlation, log_event

LINK = ("https://s3.fr-par.scw.cloud/bucket/id/b.custom?X-Amz-Credential=SCWKEY%2F2025"
        "&X-Amz-Signature=197c6051bd")


def test_json_lines_carry_correlation_id_and_never_a_presigned_query():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.obs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with correlation("cid-1"):
            log_event(logger, f"fetching {LINK}", url=LINK, size=3)
        line = json.loads(stream.getvalue().strip().splitlines()[-1])
    finally:
        logger.removeHandler(handler)
    assert line["cid"] == "cid-1" and line["size"] == 3
    assert "Signature" not in stream.getvalue() and "SCWKEY" not in stream.getvalue()
    assert line["url"].endswith("?<redacted>")


def test_urls_nested_in_structured_fields_are_redacted_too():
    # GIVEN a dispatch outcome whose error message quotes a presigned link
    record = logging.LogRecord("test.obs", logging.WARNING, __file__, 1, "database dispatched", None, None)
    record.fields = {"error": {"code": "download_failed", "message": f"GET {LINK} failed"}, "links": [LINK]}
    # WHEN it is formatted
    line = JsonFormatter().format(record)
    # THEN no part of the query string reaches the log line
    assert "Signature" not in line and "SCWKEY" not in line
    assert json.loads(line)["error"]["code"] == "download_failed"
