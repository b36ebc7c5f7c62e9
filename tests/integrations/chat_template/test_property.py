"""The generated chat template renders, in the transformers-like sandbox, exactly what ``apply_chat_template`` renders.

For random chats the bridge accepts (tests/chat_strategies.py: tools with generated
parameter schemas, tool rounds, reasoning, preambles, text parts, instructions,
every keyword), ``render_chat_template(enc.chat_template(), ...)`` equals
``enc.apply_chat_template(..., tokenize=False)``, in both dialects. The date is
the fixed one in most chats, so a failure replays the same on any day.
tests/integrations/chat_template/test_transformers.py runs the same through
transformers itself.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings

from chat_strategies import Chat, any_chats, first_difference
from harmony_grammar import load_harmony_encoding

# Fixed, database-free runs, as in tests/test_properties.py.
BASE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def render() -> Callable[..., str]:
    from harmony_grammar.integrations.chat_template.environment import render_chat_template

    return render_chat_template


@pytest.fixture(scope="module")
def template(enc: Any) -> str:
    return enc.chat_template()


@pytest.fixture(scope="module")
def openai_enc() -> Any:
    return load_harmony_encoding("HarmonyGptOss", dialect="openai-harmony")


@pytest.fixture(scope="module")
def openai_template(openai_enc: Any) -> str:
    return openai_enc.chat_template()


@settings(BASE, max_examples=150)
@given(chat=any_chats())
def test_template_renders_what_the_bridge_renders(enc: Any, template: str, render: Callable[..., str],
                                                  chat: Chat) -> None:
    want = chat.harmony(enc)
    got = chat.through(render, template)
    assert got == want, first_difference(got, want)


@settings(BASE, max_examples=50)
@given(chat=any_chats())
def test_openai_harmony_dialect(openai_enc: Any, openai_template: str, render: Callable[..., str],
                                chat: Chat) -> None:
    """The openai-harmony dialect's template follows that dialect's renderer (which differs on about half these chats)."""
    want = chat.harmony(openai_enc)
    got = chat.through(render, openai_template)
    assert got == want, first_difference(got, want)
