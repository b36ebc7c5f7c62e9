"""apply_chat_template: transformers' call through the chat bridge, exact tokens and text."""

from __future__ import annotations

import datetime

import pytest

import harmony_grammar
from harmony_grammar import HarmonyError, RenderConversationConfig, Role, conversation_from_chat
from harmony_grammar.integrations.chat import template
from harmony_grammar.integrations.chat.template import apply_chat_template

DATE = "2025-06-28"


def system(date: str = DATE, tools: bool = False) -> str:
    return ("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
            f"Knowledge cutoff: 2024-06\nCurrent date: {date}\n\nReasoning: medium\n\n"
            "# Valid channels: analysis, commentary, final. Channel must be included for every message."
            + ("\nCalls to these tools must go to the commentary channel: 'functions'." if tools else "")
            + "<|end|>")


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
DEVELOPER = ("<|start|>developer<|message|># Tools\n\n## functions\n\nnamespace functions {\n\n"
             "type get_weather = (_: {\ncity: string,\n}) => any;\n\n} // namespace functions<|end|>")

# Two turns; the first answer carries reasoning, so the defaults of auto_drop_analysis show.
FIRST = [{"role": "user", "content": "Hi"},
         {"role": "assistant", "reasoning_content": "Greet.", "content": "Hello!"},
         {"role": "user", "content": "Bye"}]
LAST = {"role": "assistant", "reasoning_content": "Wave.", "content": "Bye!"}
TOOL = [{"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "reasoning_content": "Ask the tool.",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp":21}'}]

HI = "<|start|>user<|message|>Hi<|end|>"
GREET = "<|start|>assistant<|channel|>analysis<|message|>Greet.<|end|>"
HELLO = "<|start|>assistant<|channel|>final<|message|>Hello!<|end|>"
BYE = "<|start|>user<|message|>Bye<|end|>"
WAVE = "<|start|>assistant<|channel|>analysis<|message|>Wave.<|end|>"
CALL = ("<|start|>user<|message|>Weather in Paris?<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Ask the tool.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Paris"}<|call|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":21}<|end|>')

CASES = {
    # (add_generation_prompt, the last message's role): (messages, tools, the expected text)
    (True, "user"): (FIRST, None, system() + HI + HELLO + BYE + "<|start|>assistant"),
    (True, "assistant"): (FIRST + [LAST], None, system() + HI + HELLO + BYE + WAVE
                          + "<|start|>assistant<|channel|>final<|message|>Bye!<|end|><|start|>assistant"),
    (True, "tool"): (TOOL, [WEATHER], system(tools=True) + DEVELOPER + CALL + "<|start|>assistant"),
    (False, "user"): (FIRST, None, system() + HI + HELLO + BYE),
    # The training form keeps every reasoning message and ends the last answer with <|return|>.
    (False, "assistant"): (FIRST + [LAST], None, system() + HI + GREET + HELLO + BYE + WAVE
                           + "<|start|>assistant<|channel|>final<|message|>Bye!<|return|>"),
    (False, "tool"): (TOOL, [WEATHER], system(tools=True) + DEVELOPER + CALL),
}


@pytest.mark.parametrize("tokenize", [True, False])
@pytest.mark.parametrize(("add_generation_prompt", "last"), sorted(CASES))
def test_every_argument_combination(enc, add_generation_prompt, last, tokenize):
    messages, tools, text = CASES[add_generation_prompt, last]
    assert messages[-1]["role"] == last
    got = apply_chat_template(enc, messages, tools, add_generation_prompt=add_generation_prompt, tokenize=tokenize,
                              conversation_start_date=DATE)
    assert got == (enc.encode(text, allowed_special="all") if tokenize else text)


@pytest.mark.parametrize(("add_generation_prompt", "last"), sorted(CASES))
def test_each_form_is_the_documented_render(enc, add_generation_prompt, last):
    messages, tools, _ = CASES[add_generation_prompt, last]
    convo = conversation_from_chat(messages, tools, conversation_start_date=DATE)
    if add_generation_prompt:
        expected = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    elif last == "assistant":
        expected = enc.render_conversation_for_training(convo, RenderConversationConfig(auto_drop_analysis=False))
    else:
        expected = enc.render_conversation(convo)
    got = apply_chat_template(enc, messages, tools, add_generation_prompt=add_generation_prompt,
                              conversation_start_date=DATE)
    assert got == expected


def test_the_exact_tokens_of_a_short_prompt(enc):
    system_tokens = [200006, 17360, 200008, 3575, 553, 17554, 162016, 11, 261, 4410, 6439, 2359, 22203, 656, 7788,
                     17527, 558, 87447, 100594, 25, 220, 1323, 19, 12, 3218, 198, 6576, 3521, 25, 220, 1323, 20, 12,
                     3218, 12, 2029, 279, 30377, 289, 25, 14093, 279, 2, 13888, 18403, 25, 8450, 11, 49159, 11, 1721,
                     13, 21030, 2804, 413, 7360, 395, 1753, 3176, 13, 200007]
    hi = [200006, 1428, 200008, 12194, 200007]
    assert apply_chat_template(enc, [{"role": "user", "content": "Hi"}], conversation_start_date=DATE) == (
        system_tokens + hi + [200006, 173781])
    # <|start|>assistant<|channel|>final<|message|>Hello!<|return|>
    assert apply_chat_template(enc, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
                               add_generation_prompt=False, conversation_start_date=DATE) == (
        system_tokens + hi + [200006, 173781, 200005, 17196, 200008, 13225, 0, 200002])


def test_auto_drop_analysis_defaults_and_overrides(enc):
    def text(messages, **kwargs):
        return apply_chat_template(enc, messages, tokenize=False, conversation_start_date=DATE, **kwargs)

    # The completion form drops the earlier turn's reasoning, as the reference does; the training form keeps it.
    assert GREET not in text(FIRST)
    assert GREET in text(FIRST + [LAST], add_generation_prompt=False)
    assert text(FIRST, auto_drop_analysis=False) == system() + HI + GREET + HELLO + BYE + "<|start|>assistant"
    assert text(FIRST + [LAST], add_generation_prompt=False, auto_drop_analysis=True) == (
        system() + HI + HELLO + BYE + WAVE + "<|start|>assistant<|channel|>final<|message|>Bye!<|return|>")
    assert text(FIRST, add_generation_prompt=False, auto_drop_analysis=False) == system() + HI + GREET + HELLO + BYE


def test_without_a_date_it_writes_today(enc, monkeypatch):
    assert template._today() == datetime.date.today().isoformat()
    monkeypatch.setattr(template, "_today", lambda: "2031-02-03")
    messages = [{"role": "user", "content": "Hi"}]
    assert apply_chat_template(enc, messages, tokenize=False) == system("2031-02-03") + HI + "<|start|>assistant"
    assert apply_chat_template(enc, messages, tokenize=False, conversation_start_date=None) == (
        system("2031-02-03") + HI + "<|start|>assistant")
    assert apply_chat_template(enc, messages, tokenize=False, conversation_start_date=DATE) == (
        system() + HI + "<|start|>assistant")


def test_the_settings_are_conversation_from_chats(enc):
    settings = {"reasoning_effort": "high", "model_identity": "You are a bot.", "conversation_start_date": DATE,
                "knowledge_cutoff": "2024-01", "builtin_tools": ["python"],
                "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}}
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    expected = enc.render_conversation_for_completion(conversation_from_chat(messages, [WEATHER], **settings),
                                                      Role.ASSISTANT)
    assert apply_chat_template(enc, messages, [WEATHER], **settings) == expected


def test_the_method_and_the_package_function_are_the_same(enc):
    assert harmony_grammar.apply_chat_template is apply_chat_template
    for add_generation_prompt, tokenize in [(True, True), (False, False)]:
        assert enc.apply_chat_template(FIRST + [LAST], add_generation_prompt=add_generation_prompt,
                                       tokenize=tokenize, conversation_start_date=DATE) == apply_chat_template(
            enc, FIRST + [LAST], add_generation_prompt=add_generation_prompt, tokenize=tokenize,
            conversation_start_date=DATE)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"return_dict": True}, "apply_chat_template: unknown keyword argument 'return_dict' (harmony takes "
     "reasoning_effort, model_identity, conversation_start_date, knowledge_cutoff, builtin_tools, "
     "response_format, auto_drop_analysis)"),
    ({"continue_final_message": True, "enable_thinking": False},
     "apply_chat_template: unknown keyword arguments 'continue_final_message', 'enable_thinking' (harmony takes "
     "reasoning_effort, model_identity, conversation_start_date, knowledge_cutoff, builtin_tools, "
     "response_format, auto_drop_analysis)"),
    ({"auto_drop_analysis": "yes"}, "auto_drop_analysis: expected true or false, found str"),
    ({"reasoning_effort": "max"}, "reasoning_effort: expected low, medium or high, found 'max'"),
])
def test_bad_keywords_are_refused(enc, kwargs, message):
    with pytest.raises(HarmonyError) as info:
        apply_chat_template(enc, [{"role": "user", "content": "Hi"}], **kwargs)
    assert str(info.value) == message


def test_builtin_tools_none_is_no_built_in_tools(enc):
    chat = [{"role": "user", "content": "Hi"}]
    assert enc.apply_chat_template(chat, builtin_tools=None, tokenize=False, conversation_start_date=DATE) == \
        enc.apply_chat_template(chat, tokenize=False, conversation_start_date=DATE)
