"""Slack's answer, cold: process start -> the answer to a signed slash command, through hooks.

    .venv/bin/python tests/benchmarks/bench_slack.py [--databases 1000] [--runs 5]

Served as ``sandbox/topology.py`` serves it: the sandbox API (``python -m sandbox --databases
N``, enforcing 50 requests/second), moto (SQS, S3), dispatch under functions-framework and the
command queue's trigger; hooks (public, ``COMMAND_QUEUE_URL`` set) is started afresh for every
run, under functions-framework, and the command is sent as soon as its port accepts. Timed for
``help``, ``copy <db>`` and ``copy all`` (the trigger is held meanwhile, so dispatch's runs do
not share the CPU with the next cold start). Then, once, ``copy all`` end to end: the answer,
then the run's summary on the response_url (the webhook sink stands in for Slack). Last, what
the answer path imports (``python -X importtime``). Target: every answer <= 1 s. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sandbox.processes import Children, free_port  # noqa: E402
from sandbox.queue_trigger import QueueTrigger  # noqa: E402
from sandbox.sink import WebhookSink  # noqa: E402
from sandbox.slack import signed_command  # noqa: E402
from sandbox.topology import (  # noqa: E402
    BUCKET, COMMAND_QUEUE, DISPATCH_TIMEOUT_SECONDS, QUEUE, _client, create_queue, function_env, start_moto,
    run_trigger, start_function,
)

SECRET = "bench-slack-signing-secret"
TARGET_SECONDS = 1.0
BASELINE = "(baseline)"
COMMANDS = {"help": ("help", "Usage:"), "copy <db>": ("copy db-0007", "Copy started: 1 database."),
            "copy all": ("copy all", "Copy started: every database.")}


@dataclass(frozen=True)
class Answer:
    port: float  # seconds from the process's start until its port accepted
    seconds: float  # ... until the answer arrived
    cpu: float  # CPU-seconds the process (gunicorn's arbiter and worker) had used by then
    body: dict[str, Any]


def cold_answer(children: Children, env: dict[str, str], text: str, response_url: str, run: int,
                source: str = "handlers/local.py", target: str = "hooks") -> Answer:
    """Start hooks, send the command as soon as its port accepts, time the answer."""
    port = free_port()
    args = ["-m", "functions_framework", "--target", target, "--source", source,
            "--host", "127.0.0.1", "--port", str(port)]
    form, headers = signed_command(SECRET, text, response_url)
    started = time.perf_counter()
    child = children.start_python(f"hooks-{run}", args, env)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.002)
        opened = time.perf_counter()
        answer = httpx.post(f"http://127.0.0.1:{port}/slack/command", content=form, headers=headers, timeout=10)
        seconds = time.perf_counter() - started
        return Answer(opened - started, seconds, tree_cpu(child.process.pid), answer.json() if answer.content else {})
    finally:
        child.stop()


def tree_cpu(pid: int) -> float:
    """User + system CPU-seconds of a process and its descendants, from /proc."""
    total, pending, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):  # it ended meanwhile
            continue
    return total


def measure_answers(children: Children, env: dict[str, str], sink: WebhookSink, runs: int) -> dict[str, list[Answer]]:
    """Each command ``runs`` times, and the baseline: functions-framework serving a function that
    imports nothing (the platform's own start, not ours). Rounds interleave them, so a busy
    machine weighs on all alike."""
    baseline = children.log_dir / "baseline.py"
    baseline.write_text("def hello(request):\n    return {}\n")
    figures: dict[str, list[Answer]] = {name: [] for name in (BASELINE, *COMMANDS)}
    for run in range(runs):
        figures[BASELINE].append(cold_answer(children, env, "help", sink.url, run, str(baseline), "hello"))
        for name, (text, expected) in COMMANDS.items():
            answer = cold_answer(children, env, text, sink.url + "/commands/bench/reply", run)
            if not answer.body.get("text", "").startswith(expected):
                raise SystemExit(f"{name}: unexpected answer {answer.body}")
            figures[name].append(answer)
    return figures


def end_to_end(children: Children, env: dict[str, str], sink: WebhookSink, trigger: QueueTrigger) -> tuple[float, float, str]:
    """copy all, cold, with the trigger running: (answer s, summary s, the summary's first line)."""
    sink.reset()
    trigger.release()
    started = time.time()
    answer = cold_answer(children, env, "copy all", sink.url + "/commands/bench/full", 99)
    [post] = sink.wait_for(1, timeout=DISPATCH_TIMEOUT_SECONDS)
    return answer.seconds, post.received_at - started, json.loads(post.body)["text"].splitlines()[0]


PROBE = """
import resource
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = cpu()
import handlers.dispatch
between = cpu()
{extra}
print(between - before, cpu() - between)
"""
SEND_IMPORTS = "import botocore.auth, botocore.awsrequest, botocore.httpsession"
BOTO3_CLIENT = ("import boto3; boto3.client('sqs', region_name='fr-par', endpoint_url='http://127.0.0.1:9', "
                "aws_access_key_id='k', aws_secret_access_key='s')")
HEAVY = ("pydantic", "pydantic_settings", "slack_sdk", "shared.models", "shared.settings", "shared.dispatch.routes")


def cpu_ms(extra: str, runs: int = 3) -> tuple[float, float]:
    """Median CPU ms of importing the handler, then of ``extra``, each in a fresh interpreter."""
    pairs = [tuple(float(v) * 1000 for v in subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=extra)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()) for _ in range(runs)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def importtime_ms(statement: str) -> dict[str, float]:
    """Cumulative ms per module name (its first appearance), from ``python -X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    found: dict[str, float] = {}
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            found.setdefault(parts[2].strip(), int(parts[1]) / 1000)
    return found


def imports_report() -> list[str]:
    handler, send = cpu_ms(SEND_IMPORTS)
    _, boto = cpu_ms(BOTO3_CLIENT)
    tree = importtime_ms("import handlers.dispatch")
    heavy = ", ".join(f"{name} {tree[name]:.0f}" for name in HEAVY if name in tree)
    return [f"answer path, CPU ms (median of 3 fresh interpreters): import handlers.dispatch {handler:.0f}, "
            f"the queue send's botocore signer and HTTP session {send:.0f} (a boto3 SQS client would be {boto:.0f})",
            f"python -X importtime, cumulative ms: handlers.dispatch {tree.get('handlers.dispatch', 0):.0f}; {heavy}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5, help="cold starts per command")
    args = parser.parse_args(argv)
    args.load_before = os.getloadavg()[0]  # other work on the machine weighs on every figure
    with ExitStack() as stack:
        children = stack.enter_context(Children())
        sink = stack.enter_context(WebhookSink())
        api_child = children.start_python("sandbox-api", ["-m", "sandbox", "--databases", str(args.databases),
                                                          "--export-delay", "0"])
        api = json.loads(api_child.first_line())
        moto = start_moto(children)
        _client("s3", moto).create_bucket(Bucket=BUCKET)
        sqs = _client("sqs", moto)
        jobs_url, _ = create_queue(sqs, QUEUE, 120)  # no copy function: the jobs stay queued
        commands_url, _ = create_queue(sqs, COMMAND_QUEUE, DISPATCH_TIMEOUT_SECONDS + 60)
        env = {**function_env(api, moto, queue_url=jobs_url, notify=[], log_dir=children.log_dir),
               "REPLY_HOST_ALLOWLIST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
        trigger = QueueTrigger(sqs, commands_url, start_function(children, "dispatch", env))
        trigger.hold()  # until the end-to-end run: the timed cold starts get the CPU to themselves
        run_trigger(stack, children, trigger)
        hooks_env = {**env, "SLACK_SIGNING_SECRET": SECRET, "CRON_WITHOUT_TOKEN": "false",
                     "COMMAND_QUEUE_URL": commands_url}
        figures = measure_answers(children, hooks_env, sink, args.runs)
        sqs.purge_queue(QueueUrl=commands_url)
        full = end_to_end(children, hooks_env, sink, trigger)
    sys.exit(0 if report(args, figures, full) else 1)


def report(args: argparse.Namespace, figures: dict[str, list[Answer]], full: tuple[float, float, str]) -> bool:
    print(f"Slack's answer, cold: process start -> answer, {args.databases} databases, {args.runs} runs each "
          f"(load average {args.load_before:.1f} on {os.cpu_count()} CPUs before the start)")
    print(f"{'command':<11} {'median':>7} {'min':>7} {'max':>7}   {'port open':>9}  {'CPU-s':>6}  {'above baseline':>14}")
    met = True
    for name, answers in figures.items():
        seconds = [a.seconds for a in answers]
        port, cpu = statistics.median(a.port for a in answers), statistics.median(a.cpu for a in answers)
        above = statistics.median(a.seconds - b.seconds for a, b in zip(answers, figures[BASELINE]))
        print(f"{name:<11} {statistics.median(seconds):>6.3f}s {min(seconds):>6.3f}s {max(seconds):>6.3f}s"
              f"   {port:>8.3f}s  {cpu:>6.2f}  {above:>13.3f}s")
        met &= name == BASELINE or statistics.median(seconds) <= TARGET_SECONDS
    print(f"{BASELINE}: functions-framework serving a function that imports nothing (the platform's share); "
          "port open, CPU-s and above baseline are medians (above baseline: per round)")
    answered, summary, line = full
    print(f"copy all end to end: answered after {answered:.3f}s, the run's summary on the response_url after {summary:.1f}s")
    print(f"  {line}")
    print(*imports_report(), sep="\n")
    print(f"target (median answer <= {TARGET_SECONDS:.0f} s for each command): {'met' if met else 'MISSED'}")
    return met


if __name__ == "__main__":
    main()
