"""tests/chat_strategies.py: every chat it draws is accepted by the bridge, and together they exercise every feature."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings

from chat_strategies import Chat, any_chats, chats, features, holds_special_text, strip_special, texts

# Fixed, database-free runs, as in tests/test_properties.py.
BASE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# What 200 chats must exercise between them.
FEATURES = {
    "tools", "tools:empty", "tool:nested", "tool:untyped", "tool:flat",
    "calls", "calls:parallel", "preamble", "call:with-id", "call:without-id", "call:python", "call:browser",
    "arguments:object", "arguments:absent", "arguments:text",
    "result:id", "result:named", "result:bare", "result:legacy",
    "result-content:str", "result-content:dict", "result-content:list",
    "reasoning:reasoning_content", "reasoning:reasoning", "reasoning:thinking",
    "parts:user", "parts:assistant", "parts:system",
    "leading:system", "leading:developer", "leading:empty",
    "kw:reasoning_effort", "kw:model_identity", "kw:knowledge_cutoff", "kw:conversation_start_date",
    "kw:builtin_tools", "kw:response_format", "kw:auto_drop_analysis", "kw:auto_drop_analysis:null",
    "kw:reasoning_effort:null", "builtin:string", "response_format:list",
    "date:fixed", "date:other", "date:today",
    "generation-prompt", "no-generation-prompt", "training",
    "last:user", "last:assistant", "last:tool",
    "special-text", "jinja-lookalike", "astral",
}


def test_every_chat_is_accepted_and_every_feature_occurs(enc):
    seen: Counter[str] = Counter()
    special = Counter()

    @settings(BASE, max_examples=200)
    @given(any_chats())
    def accepted(chat: Chat) -> None:
        text = chat.harmony(enc)  # raises if the bridge refuses the chat
        assert text.startswith("<|start|>system<|message|>")
        seen.update(features(chat))
        special[holds_special_text(chat)] += 1

    accepted()
    assert not FEATURES - set(seen), f"never drawn: {sorted(FEATURES - set(seen))}"
    # Enough chats of each kind: the token comparison needs the plain ones.
    assert special[False] >= 60 and special[True] >= 40, special


@settings(BASE, max_examples=60)
@given(chats(special=False))
def test_plain_chats_hold_no_special_text(chat: Chat) -> None:
    assert not holds_special_text(chat)


@settings(BASE, max_examples=30)
@given(chats(today=False))
def test_without_today_every_chat_has_a_date(chat: Chat) -> None:
    assert chat.kwargs.get("conversation_start_date") is not None


@settings(BASE, max_examples=100)
@given(texts(special=True))
def test_strip_special_breaks_every_spelling(text: str) -> None:
    plain = strip_special(text)
    assert not holds_special_text(Chat(messages=[{"role": "user", "content": plain}]))
    if not holds_special_text(Chat(messages=[{"role": "user", "content": text}])):
        assert plain == text


def test_holds_special_text_looks_everywhere() -> None:
    user = [{"role": "user", "content": "x"}]
    assert not holds_special_text(Chat(user))
    assert not holds_special_text(Chat([{"role": "user", "content": "<|end <|foo|> <|reserved_5|> |> <||>"}]))
    assert holds_special_text(Chat([{"role": "user", "content": [{"type": "text", "text": "a<|end|>"}]}]))
    assert holds_special_text(Chat(user, tools=[{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"<|reserved_201088|>": {}}}}}]))
    assert holds_special_text(Chat(user, kwargs={"model_identity": "<|startoftext|>"}))
    assert strip_special("<|<|end|>|> <|call|><|return|>") == "<|<end|>|> <call|><return|>"
