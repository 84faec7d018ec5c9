"""Fixtures of the derive tests; the builders live in ``derive_builders.py``."""

from __future__ import annotations

import pytest

from derive_builders import make_study


@pytest.fixture
def build():
    return make_study
