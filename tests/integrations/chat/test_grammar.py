"""harmony_grammar.integrations.chat.grammar: a Chat Completions request's completion grammar."""

from __future__ import annotations

import pytest

import harmony_grammar
from harmony_grammar import HarmonyError, conversation_from_chat
from harmony_grammar.integrations.chat import completion_grammar_from_chat

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
SETTINGS = {"reasoning_effort": "high", "conversation_start_date": "2025-06-28", "builtin_tools": ["browser"]}
ANSWER = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
    "type": "object", "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
    "required": ["city", "sunny"], "additionalProperties": False}}}

CALL = '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>'
TIME_CALL = '<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"zone":"CET"}<|call|>'
PROSE = "<|channel|>final<|message|>Sunny.<|return|>"


def tokens(enc, text: str) -> list[int]:
    return enc.encode(text, allowed_special="all")


@pytest.mark.parametrize("tool_choice", ["auto", "none", "required", {"name": "get_time"}])
def test_the_grammar_is_the_conversations(enc, tool_choice):
    grammar = completion_grammar_from_chat(enc, MESSAGES, [WEATHER, TIME], tool_choice=tool_choice, **SETTINGS)
    convo = conversation_from_chat(MESSAGES, [WEATHER, TIME], **SETTINGS)
    assert grammar.text == enc.completion_grammar(convo, tool_choice=tool_choice).text
    assert grammar.tool_choice == (tool_choice if isinstance(tool_choice, str) else "named")


def test_the_default_and_none_are_auto(enc):
    convo = conversation_from_chat(MESSAGES, [WEATHER])
    expected = enc.completion_grammar(convo).text
    assert completion_grammar_from_chat(enc, MESSAGES, [WEATHER]).text == expected
    assert completion_grammar_from_chat(enc, MESSAGES, [WEATHER], tool_choice=None).text == expected


@pytest.mark.parametrize("tool_choice", [
    {"type": "function", "function": {"name": "get_weather"}},
    {"name": "get_weather"},
    {"name": "functions.get_weather"},
])
def test_a_named_tool_choice_allows_only_that_call(enc, tool_choice):
    grammar = completion_grammar_from_chat(enc, MESSAGES, [WEATHER, TIME], tool_choice=tool_choice)
    assert grammar.tool_choice == "named"
    assert grammar.text == completion_grammar_from_chat(enc, MESSAGES, [WEATHER, TIME],
                                                        tool_choice={"name": "get_weather"}).text
    assert grammar.check(tokens(enc, CALL)) is None
    assert grammar.check(tokens(enc, TIME_CALL)) == 7  # '_time', after '.get': get_weather is the only recipient
    assert grammar.check(tokens(enc, PROSE)) == 1


def test_tool_choices_decide_the_ending(enc):
    auto, none, required = (completion_grammar_from_chat(enc, MESSAGES, [WEATHER], tool_choice=c)
                            for c in ("auto", "none", "required"))
    assert (auto.check(tokens(enc, CALL)), auto.check(tokens(enc, PROSE))) == (None, None)
    # commentary is a preamble's channel too; ' to' is refused
    assert (none.check(tokens(enc, CALL)), none.check(tokens(enc, PROSE))) == (3, None)
    assert (required.check(tokens(enc, CALL)), required.check(tokens(enc, PROSE))) == (None, 1)


def test_a_json_schema_response_format_makes_the_answer_json(enc):
    grammar = completion_grammar_from_chat(enc, MESSAGES, response_format=ANSWER)
    prose = tokens(enc, PROSE)
    assert prose[:3] == tokens(enc, "<|channel|>final<|message|>")
    assert grammar.check(prose) == 3  # the first content token
    for text in ('<|channel|>final<|message|>{"city":"Paris","sunny":true}<|return|>',
                 '<|channel|>final<|message|>{"city": "Paris", "sunny": false}<|return|>'):
        assert grammar.check(tokens(enc, text)) is None
    # No content type on the answer: the strict rules would read a lone one as the recipient.
    assert grammar.check(tokens(enc, '<|channel|>final <|constrain|>json<|message|>{}<|return|>')) == 2
    wrong = tokens(enc, '<|channel|>final<|message|>{"city":"Paris"}<|return|>')
    assert grammar.check(wrong) == len(tokens(enc, '<|channel|>final<|message|>{"city":"Paris"')) - 1
    assert grammar.text == enc.completion_grammar(conversation_from_chat(MESSAGES, response_format=ANSWER)).text


def test_a_text_response_format_leaves_the_answer_free(enc):
    grammar = completion_grammar_from_chat(enc, MESSAGES, response_format={"type": "text"})
    assert grammar.check(tokens(enc, PROSE)) is None


@pytest.mark.parametrize("tool_choice, message", [
    ({"name": "get_time"}, "tool_choice: no declared tool named 'get_time' (declared: get_weather)"),
    ({"type": "function", "function": {}},
     "tool_choice: expected {'type': 'function', 'function': {'name': ...}} or {'name': ...}, "
     "found {'type': 'function', 'function': {}}"),
    ("sometimes", "tool_choice: expected 'auto', 'none', 'required' or a function, found 'sometimes'"),
])
def test_bad_tool_choices(enc, tool_choice, message):
    with pytest.raises(HarmonyError) as info:
        completion_grammar_from_chat(enc, MESSAGES, [WEATHER], tool_choice=tool_choice)
    assert str(info.value) == message


def test_required_without_tools(enc):
    with pytest.raises(HarmonyError) as info:
        completion_grammar_from_chat(enc, MESSAGES, tool_choice="required")
    assert str(info.value) == "tool_choice: 'required' but the conversation declares no tools"


def test_request_errors_are_the_bridges(enc):
    with pytest.raises(HarmonyError) as info:
        completion_grammar_from_chat(enc, [{"role": "robot", "content": "Hi"}])
    assert str(info.value).startswith("messages[0].role: unknown role 'robot'")


def test_exported_from_the_package():
    assert harmony_grammar.completion_grammar_from_chat is completion_grammar_from_chat
