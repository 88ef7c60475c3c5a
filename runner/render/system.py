"""What output formats need from the machine rather than from Python, checked up front.

The runner calls :func:`check` with a declaration's outputs before any kernel starts, so a
missing system package fails the run at once, in one line naming the package, instead of
after every target has been executed. This module stays light (no nbconvert): the run
imports it before it starts its kernel ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from runner.render import pdf

#: Output format → the check of what it needs (raises ConfigError, field ``outputs``).
REQUIREMENTS: dict[str, Callable[[], None]] = {"pdf": pdf.require_libreoffice}


def check(outputs: Collection[str]) -> None:
    """Check the machine can render every output in ``outputs``.

    Raises:
        ConfigError: a system package an output needs is missing (naming it).
    """
    for name in outputs:
        if name in REQUIREMENTS:
            REQUIREMENTS[name]()
