"""Optional packages in tests: import one, or skip the test in one line saying what to install.

With ``HARMONY_REQUIRE_INTEGRATIONS=1`` (as CI sets it) a missing package fails the test instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRE_ENV_VAR = "HARMONY_REQUIRE_INTEGRATIONS"


def missing_reason(module: str, extra: str = "integrations") -> str:
    return f"{module} is not installed: pip install -e '.[{extra}]' runs this test"


def need(module: str, extra: str = "integrations") -> ModuleType:
    """``module``, imported; or a one-line skip (a failure under ``HARMONY_REQUIRE_INTEGRATIONS``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        skip_or_fail(missing_reason(module, extra))
        raise  # not reached


def skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV_VAR):
        pytest.fail(f"{reason} ({REQUIRE_ENV_VAR} is set)")
    pytest.skip(reason)
