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
    "tests.fixtures.edge",
]

# Hypothesis' per-example deadline (200 ms) measures the machine, not the code: on a loaded
# 2-core CI box a pandas call can take longer. Example counts stay bounded per test.
from hypothesis import settings as _hypothesis  # noqa: E402

_hypothesis.register_profile("broadsheet", deadline=None)
_hypothesis.load_profile("broadsheet")
