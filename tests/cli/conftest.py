"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from example_render import EXAMPLE
from harmony_grammar import Conversation


@pytest.fixture
def example() -> Conversation:
    """examples/conversation.json, read directly (not through the package)."""
    return Conversation.from_json(EXAMPLE.read_text(encoding="utf-8"))
