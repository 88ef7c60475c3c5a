"""Shared fixtures. Each area keeps its fixtures in ``tests/fixtures/<area>.py``; they are
plugged in here so every test sees them, and session-scoped ones are built once."""

pytest_plugins = [
    "tests.fixtures.system",
    "tests.fixtures.data",
    "tests.fixtures.salesforce",
    "tests.fixtures.anthropic",
    "tests.fixtures.mail",
    "tests.fixtures.database",
    "tests.fixtures.runner",
    "tests.fixtures.admin",
    "tests.fixtures.weekly",
    "tests.fixtures.browser",
    "tests.fixtures.reports",
]
