"""Salesforce-style record ids for the demo data, vectorised."""

from __future__ import annotations

import numpy as np

_SF_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_SF_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_SF_POD = "8d"


def sf_ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """Salesforce-style 18-character ids for non-negative integers, vectorised.

    The 15-character id is the 3-character key prefix, a 2-character pod, a reserved
    ``0`` and the number in 9 base-62 digits; the 3-character suffix is Salesforce's
    case-safe checksum (one bit per upper-case letter in each 5-character chunk).

    Args:
        prefix: Key prefix (``005`` users, ``001`` accounts, ``a0X`` applications).
        numbers: Integers below 62**9.

    Returns:
        A numpy array of ``str``.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    head = np.frombuffer((prefix + _SF_POD + "0").encode("ascii"), dtype=np.uint8)
    digits = np.empty((n, 9), dtype=np.uint8)
    rest = numbers.copy()
    for pos in range(8, -1, -1):
        digits[:, pos] = _SF_BASE62[rest % 62]
        rest //= 62
    body = np.concatenate([np.broadcast_to(head, (n, 6)), digits], axis=1)
    upper = ((body >= ord("A")) & (body <= ord("Z"))).reshape(n, 3, 5)
    bits = (upper * (1 << np.arange(5))).sum(axis=2)
    full = np.ascontiguousarray(np.concatenate([body, _SF_SUFFIX[bits]], axis=1))
    return full.view("S18").ravel().astype("U18")


def sequential(rng: np.random.Generator, n: int) -> np.ndarray:
    """Increasing record numbers with small gaps, as Salesforce hands them out."""
    start = int(rng.integers(62**5, 62**6))
    return start + np.cumsum(rng.integers(1, 40, size=n))
