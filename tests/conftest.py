"""Shared fixtures. Each server fixture binds 127.0.0.1 only and stops what it starts.

``tests.fixtures.leaks`` watches the whole run: a secret in a log line, a response, a
notification, an exception message or a child's log file fails it (see that module)."""

pytest_plugins = [
    "tests.fixtures.leaks",
    "tests.fixtures.servers",
    "tests.fixtures.sandbox",
    "tests.fixtures.sink",
    "tests.fixtures.copying",
    "tests.fixtures.postgres",
]
