"""The webhook sink over a real socket: recording, programmed answers, control endpoints."""

from __future__ import annotations

import httpx
import pytest

from sandbox.sink import WebhookSink


def test_records_requests_and_answers_ok(webhook_sink: WebhookSink) -> None:
    response = httpx.post(f"{webhook_sink.url}/hooks/a?x=1", content=b'{"n": 1}', headers={"X-Custom": "yes"})
    assert (response.status_code, response.text) == (200, "ok")
    (request,) = webhook_sink.wait_for(1)
    assert (request.method, request.path, request.query) == ("POST", "/hooks/a", "x=1")
    assert request.headers["x-custom"] == "yes" and request.json() == {"n": 1}


def test_programmed_answers_apply_in_order_then_fall_back_to_ok(webhook_sink: WebhookSink) -> None:
    webhook_sink.respond_with(429, headers={"retry-after": "0"}, times=2)
    webhook_sink.respond_with(410, "gone", path="/old")
    with httpx.Client(base_url=webhook_sink.url) as client:
        statuses = [client.post("/new").status_code for _ in range(3)] + [client.post("/old").status_code] * 2
        first = client.post("/x")
    assert statuses == [429, 429, 200, 410, 410]
    assert first.status_code == 200
    webhook_sink.reset()
    assert httpx.post(f"{webhook_sink.url}/old").status_code == 200  # reset drops rules too


def test_retry_after_header_is_sent(webhook_sink: WebhookSink) -> None:
    webhook_sink.respond_with(429, headers={"retry-after": "0"}, times=1)
    assert httpx.post(webhook_sink.url).headers["retry-after"] == "0"


def test_control_endpoints_for_other_processes(webhook_sink: WebhookSink) -> None:
    with httpx.Client(base_url=webhook_sink.url) as client:
        client.post("/hook", content="héllo".encode())
        listed = client.get("/_sink/requests").json()
        assert [(r["method"], r["path"], r["body"]) for r in listed] == [("POST", "/hook", "héllo")]
        assert client.post("/_sink/respond", json={"status": 500, "times": 1}).status_code == 200
        assert client.post("/hook").status_code == 500
        assert client.post("/_sink/respond", json={"nope": 1}).status_code == 400
        assert client.post("/_sink/reset").status_code == 200
        assert client.get("/_sink/requests").json() == []


def test_chunked_bodies_are_read_whole(webhook_sink: WebhookSink) -> None:
    httpx.post(webhook_sink.url, content=iter([b"abc", b"", b"defgh"]))
    assert webhook_sink.wait_for(1)[0].body == b"abcdefgh"


def test_memory_is_bounded_but_counting_is_not() -> None:
    with WebhookSink(keep=3) as sink, httpx.Client(base_url=sink.url) as client:
        for n in range(5):
            client.post("/", content=str(n))
        assert [r.body for r in sink.wait_for(5)] == [b"2", b"3", b"4"]


def test_wait_for_times_out(webhook_sink: WebhookSink) -> None:
    with pytest.raises(TimeoutError, match="0 of 1"):
        webhook_sink.wait_for(1, timeout=0.05)


def test_stop_frees_the_port() -> None:
    sink = WebhookSink().start()
    url = sink.url
    sink.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, timeout=2)


def test_the_sink_can_answer_later_than_a_sender_waits() -> None:
    import httpx

    with WebhookSink() as sink:
        sink.respond_with(200, delay_seconds=1.0, times=1)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(sink.url + "/hook", content=b"{}", timeout=0.2)
        assert httpx.post(sink.url + "/hook", content=b"{}", timeout=5).status_code == 200  # the rule is used up
        assert len(sink.wait_for(2)) == 2
