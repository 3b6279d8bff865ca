"""Trainer test helpers; the tiny models live in tests/conftest.py."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each test starts from a new accelerate state, as accelerate's own AccelerateTestCase does: the state is
    process-wide and keeps the precision and device of the first Accelerator made."""
    yield
    if "accelerate" in sys.modules:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
