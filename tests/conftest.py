"""Shared fixtures: the encoding under test and the reference oracles."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The tests compile many throwaway grammars and template folders: keep their compiled forms in a
# folder of the run's own, not in the user's cache (subprocesses inherit it).
if "HARMONY_GRAMMAR_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="harmony-grammar-cache-")
    os.environ["HARMONY_GRAMMAR_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, True)

import reference  # noqa: E402

from harmony_grammar import load_harmony_encoding  # noqa: E402

# The reference's renderings of its own test scenarios, written by scripts/make_golden.py.
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="session")
def enc():
    return load_harmony_encoding("HarmonyGptOss")


def _oracle(key: str):
    python, why = reference.ensure(key)
    if python is None:
        if os.environ.get("HARMONY_REQUIRE_REFERENCE"):
            pytest.fail(f"reference {key} is required (HARMONY_REQUIRE_REFERENCE is set) but unavailable: {why}")
        pytest.skip(f"reference {key} unavailable: {why}")
    return lambda cases: reference.run(key, python, cases)


@pytest.fixture(scope="session")
def oss_oracle():
    """Runs cases through oss-harmony 0.0.11 in its own virtual environment."""
    return _oracle("oss-harmony")


@pytest.fixture(scope="session")
def openai_oracle():
    """Runs cases through openai-harmony 0.0.8 in its own virtual environment."""
    return _oracle("openai-harmony")
