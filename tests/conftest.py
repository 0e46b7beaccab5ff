"""Fixtures every test gets."""

from __future__ import annotations

import os

import pytest

from tests.helpers import ISA_VARIABLES


@pytest.fixture(autouse=True)
def isa_pin_stays_in_its_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-running a scores file pins the kernels it records (drc/cpu_isa.py) by setting environment
    variables; put them back after each test, so that no later test's child processes inherit them."""
    for name in ISA_VARIABLES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
