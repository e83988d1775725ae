"""How the demo's run starts: the nightly cron event fired at dispatch, or (``--slack TEXT``) a
slash command as Slack sends it, signed, to hooks: its answer, then the run's summary that
dispatch posts on the command's response_url (the webhook sink stands in for Slack)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from rich.console import Console

from sandbox.slack import signed_command

SLACK_SECRET = "demo-slack-signing-secret"
SLACK_REPLY = "/commands/T0001/1/demo-response-url"
SLACK_COPY_POSTS = 4  # the run's summary takes the fifth of Slack's posts


def posts_on(sink: Any, path: str, count: int, timeout: float) -> list[Any]:
    """What the sink received on ``path`` (it also takes the notices), once ``count`` arrived or
    ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while len(found := [r for r in sink.requests if r.path == path]) < count and time.monotonic() < deadline:
        try:
            sink.wait_for(len(sink.requests) + 1, timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
    return found


def slack_run(chain: Any, args: Any, console: Console) -> tuple[bool, dict[str, Any]]:
    """The slash command as Slack sends it; hooks' answer, then the run's summary on the response_url."""
    form, headers = signed_command(SLACK_SECRET, args.slack, chain.sink.url + SLACK_REPLY)
    console.print(f"Slack: /sdb-backup {args.slack} -> POST {chain.hooks_url}slack/command")
    started = time.perf_counter()
    answer = httpx.post(chain.hooks_url + "slack/command", content=form, headers=headers, timeout=30)
    console.print(f"hooks answered {answer.status_code} in {time.perf_counter() - started:.2f}s: "
                  f"{answer.json().get('text')}", markup=False)
    with console.status("dispatch runs the queued command (command queue -> trigger -> dispatch)"):
        [summary, *_] = posts_on(chain.sink, SLACK_REPLY, 1, args.timeout) or [None]
    if summary is None:
        console.print(f"[red]nothing was posted on the response_url within {args.timeout:.0f}s[/]")
        return False, {}
    console.print(f"posted on the response_url after {time.perf_counter() - started:.1f}s:", markup=False)
    console.print(json.loads(summary.body)["text"], markup=False)
    deadline = time.monotonic() + 30  # dispatch answers the trigger right after posting the summary
    while not chain.command_trigger.answers and time.monotonic() < deadline:
        time.sleep(0.05)
    report = json.loads(chain.command_trigger.answers[-1])  # dispatch's answer to the trigger
    return answer.status_code == 200, report


def start_run(chain: Any, args: Any, body: dict[str, Any],
              console: Console) -> tuple[bool, dict[str, Any]]:
    """Fire the cron event (``body``) at dispatch, or a slash command at hooks; (answered well,
    dispatch's report)."""
    if not args.slack:
        console.print(f"cron event -> POST {chain.dispatch_url}  {json.dumps(body)}")
        with console.status("dispatch is planning and requesting exports" + (" (and copying inline)" if args.inline else "")):
            answer = chain.fire_cron(body, timeout=args.timeout)
        report = answer.json()
        console.print(f"dispatch answered {answer.status_code}: {report.get('summary', report)}")
        return answer.status_code == 200, report
    return slack_run(chain, args, console)
