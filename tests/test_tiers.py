"""The tiers select what docs/development.md says: a zoo model's own file keeps only its unit
tests in the fast tier, and runs whole when named."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _collected(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("::")[1] for line in proc.stdout.splitlines() if "::" in line}


@pytest.mark.slow  # a fresh pytest process
def test_a_model_file_keeps_only_its_unit_tests_in_the_fast_tier():
    whole = _collected("tests/test_iaf.py")
    fast = _collected("-m", "not slow", "tests/test_iaf.py")
    unit = _collected("-m", "unit", "tests/test_iaf.py")
    assert unit and fast == unit < whole
