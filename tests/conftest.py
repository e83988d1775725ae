"""Shared fixtures. Each server fixture binds 127.0.0.1 only and stops what it starts."""

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.sandbox",
    "tests.fixtures.sink",
    "tests.fixtures.copying",
    "tests.fixtures.postgres",
]
