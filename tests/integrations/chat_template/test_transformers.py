"""The generated chat template through transformers' own ``apply_chat_template``: the same text and tokens as the bridge.

The tokenizer is gpt-oss's, built from the bundled ranks (tests/hf_tokenizer.py), so
no network is needed. Text is compared for every generated chat; tokens
(``tokenize=True`` on the transformers side) whenever no string of the chat spells a
special token, which transformers reads as that token and harmony as text.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any, Union

import pytest
from hypothesis import HealthCheck, given, settings

from chat_strategies import DATE, Chat, any_chats, first_difference, holds_special_text
from hf_tokenizer import gpt_oss_tokenizer
from optional import need

BASE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def tok() -> Any:
    need("transformers", "hf")
    return gpt_oss_tokenizer()


@pytest.fixture(scope="module")
def template(enc: Any) -> str:
    return enc.chat_template()


def through_transformers(tok: Any, template: str, chat: Chat, tokenize: bool = False) -> Union[str, list[int]]:
    """``tokenizer.apply_chat_template`` with the chat's messages, tools and keywords and our template."""
    out = tok.apply_chat_template(chat.messages, tools=chat.tools, add_generation_prompt=chat.add_generation_prompt,
                                  tokenize=tokenize, chat_template=template, return_dict=False, **chat.kwargs)
    if tokenize and not isinstance(out, list):  # a BatchEncoding, should return_dict be ignored
        out = out["input_ids"]
    return out


def test_generated_chats(enc: Any, tok: Any, template: str) -> None:
    """Random chats: the same text always, the same token ids when no string spells a special token."""
    compared: Counter[str] = Counter()

    @settings(BASE, max_examples=100)
    @given(chat=any_chats())
    def same(chat: Chat) -> None:
        want = chat.harmony(enc)
        got = through_transformers(tok, template, chat)
        assert got == want, first_difference(got, want)
        compared["text"] += 1
        if not holds_special_text(chat):
            assert through_transformers(tok, template, chat, tokenize=True) == chat.harmony(enc, tokenize=True)
            compared["tokens"] += 1

    same()
    assert compared["tokens"] >= 30, compared


WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

# name: the chat, and text the render must hold.
CASES = {
    "tool-round": (
        Chat([{"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "reasoning_content": "Ask the tool.",
               "tool_calls": [{"id": "c1", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
              {"role": "tool", "tool_call_id": "c1", "content": '{"temp":21}'}],
             WEATHER, True, {"reasoning_effort": "high", "conversation_start_date": DATE}),
        "<|start|>user<|message|>Weather in Paris?<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Ask the tool.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Paris"}<|call|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":21}<|end|>'
        "<|start|>assistant"),
    "parallel-calls-without-ids": (
        Chat([{"role": "user", "content": "Paris and Rome?"},
              {"role": "assistant", "content": "Checking both.", "tool_calls": [
                  {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                  {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
              {"role": "tool", "content": {"temp": 21}},
              {"role": "tool", "content": {"temp": 25}},
              {"role": "assistant", "content": "21 °C and 25 °C."}],
             WEATHER, True, {"conversation_start_date": DATE}),
        "<|start|>assistant<|channel|>commentary<|message|>Checking both.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Paris"}<|call|>'
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Rome"}<|call|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":21}<|end|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":25}<|end|>'
        "<|start|>assistant<|channel|>final<|message|>21 °C and 25 °C.<|end|><|start|>assistant"),
    "training": (
        Chat([{"role": "system", "content": "Be brief."},
              {"role": "user", "content": "Hi"},
              {"role": "assistant", "reasoning_content": "Greet.", "content": "Hello!"}],
             None, False, {"conversation_start_date": DATE}),
        "<|start|>developer<|message|># Instructions\n\nBe brief.<|end|>"
        "<|start|>user<|message|>Hi<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Greet.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Hello!<|return|>"),
    "builtin-python": (
        Chat([{"role": "user", "content": "What is 2**10?"},
              {"role": "assistant", "tool_calls": [{"id": "p1", "type": "function",
                                                    "function": {"name": "python", "arguments": "print(2**10)"}}]},
              {"role": "tool", "tool_call_id": "p1", "content": "1024"}],
             None, True, {"builtin_tools": ["python"], "conversation_start_date": DATE}),
        "<|start|>assistant to=python<|channel|>analysis<|message|>print(2**10)<|call|>"
        "<|start|>python to=assistant<|channel|>analysis<|message|>1024<|end|><|start|>assistant"),
    "today": (
        Chat([{"role": "user", "content": "What day is it?"}]),
        None),  # no conversation_start_date: today's date, from strftime_now on transformers' side
}


@pytest.mark.parametrize("name", list(CASES))
def test_fixed_case(enc: Any, tok: Any, template: str, name: str) -> None:
    chat, holds = CASES[name]
    want = chat.harmony(enc)
    got = through_transformers(tok, template, chat)
    assert got == want, first_difference(got, want)
    if name == "today":
        holds = f"Current date: {datetime.date.today().isoformat()}\n"
    assert holds in got
    if name == "training":
        assert got.endswith(holds)
    ids = through_transformers(tok, template, chat, tokenize=True)
    assert ids == chat.harmony(enc, tokenize=True)
    assert ids[-1] == {"training": 200002}.get(name, 173781)  # <|return|>, or "assistant" after <|start|>
