"""harmony_grammar.integrations.chat.convert: chat messages to harmony and back, exact messages and tokens."""

from __future__ import annotations

import json
import random
import warnings

import pytest

import generators as g
from harmony_grammar import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyError,
    HarmonyWarning,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    Role,
    SystemContent,
    TextContent,
    ToolDescription,
    chat_from_conversation,
    chat_message_from_completion,
    chat_message_from_tokens,
    conversation_from_chat,
    load_harmony_encoding,
)
from harmony_grammar.integrations.chat.convert import tool_call_id

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def call(id_: str, name: str, arguments: str) -> dict:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant(channel: str, text: str, recipient: str | None = None, content_type: str | None = None) -> Message:
    msg = Message.from_role_and_content(Role.ASSISTANT, text).with_channel(channel)
    if recipient is not None:
        msg = msg.with_recipient(recipient)
    if content_type is not None:
        msg = msg.with_content_type(content_type)
    return msg


def body(convo: Conversation) -> list[Message]:
    """The messages after the system (and developer) message."""
    return [m for m in convo.messages if m.author.role not in (Role.SYSTEM, Role.DEVELOPER)]


def tool_result(name: str, text: str) -> Message:
    return Message(author=Author(role=Role.TOOL, name=name), content=[TextContent(text=text)],
                   channel="commentary", recipient="assistant")


# -- conversation_from_chat: the system and developer messages -------------------


def test_system_settings_come_from_keywords_and_defaults():
    convo = conversation_from_chat([{"role": "user", "content": "Hi"}], reasoning_effort="HIGH",
                                   model_identity="You are a bot.", conversation_start_date="2025-06-28",
                                   knowledge_cutoff="2024-01")
    expected = (SystemContent.new().with_reasoning_effort(ReasoningEffort.HIGH).with_model_identity("You are a bot.")
                .with_conversation_start_date("2025-06-28").with_knowledge_cutoff("2024-01"))
    assert convo.messages == [Message.from_role_and_content(Role.SYSTEM, expected),
                              Message.from_role_and_content(Role.USER, "Hi")]


def test_no_developer_message_without_instructions_tools_or_formats():
    convo = conversation_from_chat([{"role": "user", "content": "Hi"}])
    assert [m.author.role for m in convo.messages] == [Role.SYSTEM, Role.USER]
    assert convo.messages[0].content == [SystemContent.new()]


def test_leading_system_and_developer_messages_become_the_instructions():
    convo = conversation_from_chat([
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hi"},
    ], [WEATHER])
    developer = DeveloperContent.new().with_instructions("Be brief.\n\nAnswer in French.").with_function_tools([
        ToolDescription.new("get_weather", "Current weather.", WEATHER["function"]["parameters"])])
    assert convo.messages[1] == Message.from_role_and_content(Role.DEVELOPER, developer)


def test_rendered_tool_loop_is_exact(enc):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "reasoning_content": "Call both.", "content": "Checking.",
         "tool_calls": [call("a", "get_weather", '{"city":"Paris"}'), call("b", "get_weather", '{"city":"Rome"}')]},
        {"role": "tool", "tool_call_id": "b", "content": '{"temp":25}'},
        {"role": "tool", "tool_call_id": "a", "content": '{"temp":21}'},
    ]
    convo = conversation_from_chat(messages, [WEATHER], conversation_start_date="2025-06-28")
    text = enc.decode_utf8(enc.render_conversation_for_completion(convo, Role.ASSISTANT))
    tail = text[text.index("<|start|>user"):]
    assert tail == (
        "<|start|>user<|message|>Weather in Paris and Rome?<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Call both.<|end|>"
        "<|start|>assistant<|channel|>commentary<|message|>Checking.<|end|>"
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>'
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Rome"}<|call|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":25}<|end|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":21}<|end|>'
        "<|start|>assistant")
    assert "Calls to these tools must go to the commentary channel: 'functions'." in text


# -- conversation_from_chat: each message shape -----------------------------------


def test_user_text_parts_become_one_text():
    # One text, so it is tokenized as a chat template's output is: "Hel" + "lo" as "Hello".
    convo = conversation_from_chat([{"role": "user", "content": [
        {"type": "text", "text": "Hel"}, {"type": "input_text", "text": "lo"}]}])
    assert body(convo) == [Message(author=Author(role=Role.USER), content=[TextContent(text="Hello")])]
    enc = load_harmony_encoding("HarmonyGptOss")
    tokens = enc.render_conversation(Conversation.from_messages(body(convo)))
    assert tokens == [200006, 1428, 200008, *enc.encode("Hello"), 200007]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_each_reasoning_field_becomes_an_analysis_message(field):
    convo = conversation_from_chat([{"role": "user", "content": "q"},
                                    {"role": "assistant", field: "think", "content": "answer"}])
    assert body(convo)[1:] == [assistant("analysis", "think"), assistant("final", "answer")]


def test_every_tool_call_is_rendered_and_arguments_are_not_encoded_twice(enc):
    args = ['{"city":"Paris"}', '{"city": "Rome", "note": "a \\"quoted\\" word"}', ""]
    convo = conversation_from_chat([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None,
         "tool_calls": [call(str(i), "get_weather", a) for i, a in enumerate(args)]},
    ])
    assert body(convo)[1:] == [assistant("commentary", a, "functions.get_weather", "<|constrain|>json") for a in args]
    tokens = enc.render_conversation(convo)
    for a in args[:2]:
        assert enc.encode(a) == tokens[_find(tokens, enc.encode(a))[0]:][:len(enc.encode(a))]
    assert '\\"city' not in enc.decode_utf8(tokens)


def _find(haystack: list[int], needle: list[int]) -> list[int]:
    return [i for i in range(len(haystack) - len(needle) + 1) if haystack[i:i + len(needle)] == needle]


def test_object_arguments_are_encoded_once():
    convo = conversation_from_chat([{"role": "assistant", "tool_calls": [
        {"id": "x", "type": "function", "function": {"name": "f", "arguments": {"é": [1, 2]}}}]}])
    assert body(convo)[0].content[0].text == '{"é":[1,2]}'


def test_content_with_tool_calls_is_a_preamble_and_without_them_a_final_message():
    convo = conversation_from_chat([
        {"role": "assistant", "content": "Let me look.", "tool_calls": [call("x", "f", "{}")]},
        {"role": "tool", "tool_call_id": "x", "content": "42"},
        {"role": "assistant", "content": "It is 42."},
    ])
    assert body(convo) == [assistant("commentary", "Let me look."),
                           assistant("commentary", "{}", "functions.f", "<|constrain|>json"),
                           tool_result("functions.f", "42"),
                           assistant("final", "It is 42.")]


def test_an_empty_assistant_message_is_an_empty_final_message():
    convo = conversation_from_chat([{"role": "assistant", "content": None}])
    assert body(convo) == [assistant("final", "")]


def test_tool_results_are_named_through_their_call_id():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}"), call("2", "functions.b", "{}")]},
        {"role": "tool", "tool_call_id": "2", "content": [{"type": "text", "text": "B"}]},
        {"role": "tool", "tool_call_id": "1", "content": "A"},
        {"role": "function", "name": "a", "content": "legacy"},
    ])
    assert body(convo)[2:] == [tool_result("functions.b", "B"), tool_result("functions.a", "A"),
                               tool_result("functions.a", "legacy")]


def test_builtin_tool_calls_keep_their_namespace():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "browser.search", '{"query":"x"}')]},
        {"role": "tool", "tool_call_id": "1", "content": "results"},
    ], builtin_tools=["browser"])
    assert convo.messages[0].content[0].tools["browser"].name == "browser"
    assert body(convo) == [
        assistant("analysis", '{"query":"x"}', "browser.search"),
        Message(author=Author(role=Role.TOOL, name="browser.search"), content=[TextContent(text="results")],
                channel="analysis", recipient="assistant")]


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}],
     "messages[1].role: unknown role 'robot' (expected system, developer, user, assistant or tool)"),
    ([{"role": "user", "content": "a"}, {"role": "tool", "tool_call_id": "nope", "content": "b"}],
     "messages[1].tool_call_id: no earlier assistant tool call has the id 'nope'"),
    ([{"role": "tool", "content": "b"}],
     "messages[0].tool_call_id: missing, and no earlier assistant tool call is waiting for a result"),
    ([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]}],
     "messages[0].content[1]: content part of type 'image_url' cannot be rendered in harmony "
     "(only text parts: text, input_text, output_text, refusal)"),
    ([{"role": "user", "content": "a"}, {"role": "system", "content": "late"}],
     "messages[1].role: a system message may only come before the first user or assistant message "
     "(its text becomes the developer instructions)"),
    ([{"role": "user", "content": 5}], "messages[0].content: expected a string or a list of text parts, found int"),
    ([{"role": "user"}], "messages[0].content: expected a string or a list of text parts, found null"),
    (["hi"], "messages[0]: expected a message object, found str"),
    ([{"role": "assistant", "reasoning": "a", "thinking": "b"}],
     "messages[0].thinking: differs from another reasoning field of the same message"),
    ([{"role": "assistant", "tool_calls": [{"type": "custom", "custom": {}}]}],
     "messages[0].tool_calls[0].type: only 'function' tool calls can be rendered, found 'custom'"),
    ([{"role": "assistant", "tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}],
     "messages[0].tool_calls[0].function.name: expected a non-empty string, found null"),
    ([{"role": "assistant", "tool_calls": [call("x", "f", 5)]}],
     "messages[0].tool_calls[0].function.arguments: expected the arguments as a JSON string, found int"),
])
def test_bad_messages_name_the_index(messages, message):
    with pytest.raises(HarmonyError) as info:
        conversation_from_chat(messages)
    assert str(info.value) == message


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tools": [{"type": "web_search"}]}, "tools[0].type: only 'function' tools can be declared, found 'web_search'"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name: 'get_weather' is declared twice"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
     "tools[0].function.parameters: expected a JSON Schema object, found str"),
    ({"reasoning_effort": "max"}, "reasoning_effort: expected low, medium or high, found 'max'"),
    ({"builtin_tools": ["shell"]}, "builtin_tools: unknown tool 'shell' (known: browser, python)"),
    ({"response_format": {"type": "json_object"}},
     "response_format.type: harmony renders only 'json_schema' (or 'text') response formats, found 'json_object'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format.json_schema.schema: expected a JSON Schema object, found null"),
    ({"conversation_start_date": 20250101}, "conversation_start_date: expected a string, found int"),
])
def test_bad_settings_name_the_field(kwargs, message):
    with pytest.raises(HarmonyError) as info:
        conversation_from_chat([{"role": "user", "content": "a"}], **kwargs)
    assert str(info.value) == message


def test_responses_api_tool_shape_is_accepted():
    flat = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    convo = conversation_from_chat([{"role": "user", "content": "a"}], [flat])
    assert convo.messages[1].content[0].tools["functions"].tools == [
        ToolDescription.new("f", "", {"type": "object", "properties": {}})]


# -- response formats -----------------------------------------------------------


SHOPPING = {"properties": {"items": {"type": "array", "description": "entries on the shopping list",
                                     "items": {"type": "string"}}}, "type": "object"}


def test_response_format_renders_the_documented_section(enc):
    convo = conversation_from_chat(
        [{"role": "system", "content": "You are a helpful shopping assistant"},
         {"role": "user", "content": "I need to buy coffee, soda and eggs"}],
        response_format={"type": "json_schema", "json_schema": {
            "name": "shopping_list", "description": "A list of items.", "schema": SHOPPING, "strict": True}})
    text = enc.decode_utf8(enc.render(convo.messages[1]))
    assert text == (
        "<|start|>developer<|message|># Instructions\n\nYou are a helpful shopping assistant\n\n"
        "# Response Formats\n\n## shopping_list\n\n// A list of items.\n"
        '{"properties":{"items":{"type":"array","description":"entries on the shopping list",'
        '"items":{"type":"string"}}},"type":"object"}<|end|>')


def test_text_response_format_adds_nothing():
    convo = conversation_from_chat([{"role": "user", "content": "a"}], response_format={"type": "text"})
    assert [m.author.role for m in convo.messages] == [Role.SYSTEM, Role.USER]


def test_responses_api_format_shape_and_several_formats():
    convo = conversation_from_chat([{"role": "user", "content": "a"}], response_format=[
        {"type": "json_schema", "name": "a", "schema": {"type": "string"}},
        {"type": "json_schema", "json_schema": {"name": "b", "schema": {"type": "number"}}}])
    formats = convo.messages[1].content[0].response_formats
    assert [(f.name, f.schema_, f.description) for f in formats] == [
        ("a", {"type": "string"}, None), ("b", {"type": "number"}, None)]


# -- chat_message_from_completion ----------------------------------------------------


def test_completion_with_reasoning_and_final():
    assert chat_message_from_completion([assistant("analysis", "Think."), assistant("final", "Done.")]) == {
        "role": "assistant", "content": "Done.", "reasoning_content": "Think."}


def test_completion_with_preamble_and_calls_has_stable_ids():
    msgs = [assistant("analysis", "Need both."), assistant("commentary", "Checking."),
            assistant("commentary", '{"city":"Paris"}', "functions.get_weather", "<|constrain|>json"),
            assistant("analysis", '{"query":"x"}', "browser.search")]
    out = chat_message_from_completion(msgs, call_id_seed="chatcmpl-1")
    assert out == {
        "role": "assistant", "content": "Checking.", "reasoning_content": "Need both.",
        "tool_calls": [
            {"id": tool_call_id("chatcmpl-1", 0), "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": tool_call_id("chatcmpl-1", 1), "type": "function",
             "function": {"name": "browser.search", "arguments": '{"query":"x"}'}}]}
    assert chat_message_from_completion(msgs, call_id_seed="chatcmpl-1") == out
    ids = {c["id"] for c in out["tool_calls"]}
    assert len(ids) == 2 and all(i.startswith("call_") and len(i) == 29 for i in ids)


def test_unseeded_ids_differ_between_completions():
    msgs = [assistant("commentary", "{}", "functions.f")]
    first = chat_message_from_completion(msgs)["tool_calls"][0]["id"]
    assert first != chat_message_from_completion(msgs)["tool_calls"][0]["id"]


def test_several_texts_are_joined_by_a_blank_line_and_empty_ones_skipped():
    msgs = [assistant("analysis", "a"), assistant("analysis", ""), assistant("analysis", "b"),
            assistant("commentary", "pre"), assistant("final", "post")]
    assert chat_message_from_completion(msgs) == {
        "role": "assistant", "content": "pre\n\npost", "reasoning_content": "a\n\nb"}


def test_only_calls_means_content_none():
    out = chat_message_from_completion([assistant("commentary", "{}", "functions.f")], call_id_seed="s")
    assert out["content"] is None and "reasoning_content" not in out


def test_a_non_assistant_message_is_refused():
    with pytest.raises(HarmonyError, match=r"^messages\[1\]: expected an assistant message, found one from 'user'$"):
        chat_message_from_completion([assistant("final", "a"), Message.from_role_and_content(Role.USER, "b")])


# -- chat_message_from_tokens, strict and lenient ------------------------------------------


def test_tokens_to_chat_message(enc):
    tokens = enc.encode('<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary '
                        'to=functions.get_weather <|constrain|>json<|message|>{"city":"SF"}<|call|>',
                        allowed_special="all")
    assert chat_message_from_tokens(enc, tokens, call_id_seed="s") == {
        "role": "assistant", "content": None, "reasoning_content": "Need weather.",
        "tool_calls": [{"id": tool_call_id("s", 0), "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"SF"}'}}]}


@pytest.mark.parametrize("text, expected, codes", [
    # a stop token after <|end|>: the reference's "Unexpected token 200002 while expecting start token 200006"
    ("<|channel|>final<|message|>Hi<|end|><|return|>", {"role": "assistant", "content": "Hi"}, ["R001"]),
    # a second message without <|start|>assistant
    ("<|channel|>analysis<|message|>think<|end|><|channel|>final<|message|>Hi<|return|>",
     {"role": "assistant", "content": "Hi", "reasoning_content": "think"}, ["R002"]),
    # a <|constrain|> word where the strict rules expect a recipient: never a tool call
    ("<|channel|>final <|constrain|>response<|message|>x<|return|>", {"role": "assistant", "content": "x"},
     ["R008"]),
    ("<|channel|>analysis<|message|>Hmm.<|end|>oops<|channel|>final<|message|>Hi",
     {"role": "assistant", "content": "Hi", "reasoning_content": "Hmm."}, ["R002", "R010"]),
])
def test_strict_raises_and_lenient_recovers_with_warnings(enc, text, expected, codes):
    tokens = enc.encode(text, allowed_special="all")
    if codes != ["R008"]:
        with pytest.raises(HarmonyError):
            chat_message_from_tokens(enc, tokens)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HarmonyWarning)
        out = chat_message_from_tokens(enc, tokens, lenient=True, call_id_seed="s")
    assert out == expected
    assert [str(w.message).rsplit(" [", 1)[1].rstrip("]") for w in caught] == codes


def test_lenient_recovers_a_tool_call_from_a_header_after_a_stop_token(enc):
    tokens = enc.encode("<|channel|>analysis<|message|>Weather?<|call|>commentary to=functions.get_weather "
                        '<|constrain|>json<|message|>{"city":"SF"}<|call|>', allowed_special="all")
    with pytest.warns(HarmonyWarning, match=r"\[R002\]$"):
        out = chat_message_from_tokens(enc, tokens, lenient=True, call_id_seed="s")
    assert out == {"role": "assistant", "content": None, "reasoning_content": "Weather?",
                   "tool_calls": [{"id": tool_call_id("s", 0), "type": "function",
                                   "function": {"name": "get_weather", "arguments": '{"city":"SF"}'}}]}


def test_lenient_leaves_special_tokens_out_of_the_text(enc):
    tokens = enc.encode("<|channel|>final<|message|>a<|channel|>b<|start|>c<|return|>", allowed_special="all")
    assert chat_message_from_tokens(enc, tokens)["content"] == "a<|channel|>b<|start|>c"  # as the reference
    with pytest.warns(HarmonyWarning) as caught:
        out = chat_message_from_tokens(enc, tokens, lenient=True)
    assert out == {"role": "assistant", "content": "abc"}
    assert [str(w.message) for w in caught] == [
        "token 4: special token <|channel|> inside the content: left out of the text",
        "token 6: special token <|start|> inside the content: left out of the text"]


NAMED = ("<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>")


def _texts(out: dict) -> list[str]:
    found = [out.get("content") or "", out.get("reasoning_content") or ""]
    return found + [c["function"]["arguments"] for c in out.get("tool_calls", [])]


def test_lenient_never_raises_on_garbage(enc):
    """Lenient never raises, warns where it repairs, and no special token's text reaches the message."""
    rng = random.Random(7)
    failed = 0
    for _ in range(300):
        tokens = g.random_tokens(rng)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", HarmonyWarning)
            out = chat_message_from_tokens(enc, tokens, lenient=True, call_id_seed="s")
        assert not any(name in text for text in _texts(out) for name in NAMED), (tokens, out)
        try:
            strict = chat_message_from_tokens(enc, tokens, call_id_seed="s")
        except HarmonyError:
            failed += 1
            assert caught or not tokens  # an empty completion has nothing to repair
            assert all(w.category is HarmonyWarning for w in caught)
        else:
            assert out == strict or caught
    assert failed > 100  # the garbage really is garbage, mostly


def test_lenient_equals_strict_on_good_output(enc):
    rng = random.Random(3)
    for _ in range(200):
        tokens = enc.encode(g.assistant_completion(rng), allowed_special="all")
        strict = chat_message_from_tokens(enc, tokens, call_id_seed="s")
        with warnings.catch_warnings():
            warnings.simplefilter("error", HarmonyWarning)
            assert chat_message_from_tokens(enc, tokens, lenient=True, call_id_seed="s") == strict


# -- round trips -----------------------------------------------------------------------


def _normalize(messages: list[dict]) -> list[dict]:
    """Chat messages as chat_from_conversation writes them: call ids renamed in order, text parts joined."""
    ids: dict[str, str] = {}
    out = []
    for m in messages:
        m = dict(m)
        if isinstance(m.get("content"), list):
            m["content"] = "".join(p["text"] for p in m["content"])
        if m["role"] == "developer":
            m["role"] = "system"
        if m["role"] == "assistant":
            m.setdefault("content", None)
            for c in m.get("tool_calls", []):
                ids[c["id"]] = f"#{len(ids)}"
            if "tool_calls" in m:
                m["tool_calls"] = [dict(c, id=ids[c["id"]]) for c in m["tool_calls"]]
        if m["role"] == "tool":
            m["tool_call_id"] = ids[m["tool_call_id"]]
        out.append(m)
    return out


@pytest.mark.parametrize("seed", range(300))
def test_chat_to_harmony_to_chat_round_trip(seed, enc):
    rng = random.Random(seed)
    messages = g.chat_messages(rng)
    convo = conversation_from_chat(messages, [WEATHER])
    back = chat_from_conversation(convo, call_id_seed="s")
    assert _normalize(back) == _normalize(messages)
    # The same conversation survives rendering and parsing back to harmony messages.
    tokens = enc.render_conversation(convo, RenderConversationConfig(auto_drop_analysis=False))
    parsed = enc.parse_messages_from_completion_tokens(tokens, None)
    assert [(m.author, m.channel, m.recipient) for m in parsed] == [
        (m.author, m.channel, m.recipient) for m in convo.messages]


@pytest.mark.parametrize("seed", range(300))
def test_assistant_turn_round_trips_through_tokens(seed, enc):
    """Each assistant shape: chat message -> harmony -> tokens -> parse -> the same chat message."""
    rng = random.Random(seed)
    messages = [m for m in g.chat_messages(rng) if m["role"] == "assistant"]
    for original in messages:
        convo = conversation_from_chat([original])
        tokens = enc.render_conversation(Conversation.from_messages(body(convo)),
                                         RenderConversationConfig(auto_drop_analysis=False))
        assert tokens[:2] == [200006, enc.encode("assistant")[0]]
        got = chat_message_from_tokens(enc, tokens[2:], Role.ASSISTANT, call_id_seed="s")
        assert _normalize([got]) == _normalize([json.loads(json.dumps(original))])


# -- inputs Hugging Face chat templates are given ----------------------------------


def test_a_result_without_an_id_answers_the_earliest_waiting_call():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}"), call("2", "b", "{}"), call("3", "c", "{}")]},
        {"role": "tool", "tool_call_id": "1", "content": "A"},  # answered by id: no longer waiting
        {"role": "tool", "content": "B"},
        {"role": "tool", "tool_call_id": None, "content": "C"},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "d", "arguments": "{}"}}]},
        {"role": "tool", "content": "D"},  # a call without an id waits too
    ])
    assert body(convo)[3:6] + body(convo)[7:] == [
        tool_result("functions.a", "A"), tool_result("functions.b", "B"), tool_result("functions.c", "C"),
        tool_result("functions.d", "D")]


def test_a_result_without_an_id_but_with_a_name_answers_the_earliest_waiting_call_to_that_tool():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}"), call("2", "b", "{}"), call("3", "b", "{}")]},
        {"role": "tool", "name": "b", "content": "B1"},
        {"role": "tool", "name": "functions.b", "content": "B2"},
        {"role": "tool", "content": "A"},
    ], builtin_tools=["python"])
    assert body(convo)[3:] == [tool_result("functions.b", "B1"), tool_result("functions.b", "B2"),
                               tool_result("functions.a", "A")]


def test_a_built_in_call_answered_without_an_id_keeps_its_shape():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "python", "print(1)")]},
        {"role": "tool", "content": "1"},
    ], builtin_tools=["python"])
    assert body(convo)[1] == Message(author=Author(role=Role.TOOL, name="python"), content=[TextContent(text="1")],
                                     channel="analysis", recipient="assistant")


def test_a_legacy_function_result_takes_its_call_off_the_waiting_list():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}"), call("2", "b", "{}")]},
        {"role": "function", "name": "a", "content": "A"},
        {"role": "tool", "content": "B"},
    ])
    assert body(convo)[2:] == [tool_result("functions.a", "A"), tool_result("functions.b", "B")]


def test_an_id_answers_its_call_again_and_ids_answer_in_any_order():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}"), call("2", "b", "{}")]},
        {"role": "tool", "tool_call_id": "2", "content": "B"},
        {"role": "tool", "tool_call_id": "2", "content": "B again"},
        {"role": "tool", "content": "A"},
    ])
    assert body(convo)[2:] == [tool_result("functions.b", "B"), tool_result("functions.b", "B again"),
                               tool_result("functions.a", "A")]


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "assistant", "tool_calls": [call("1", "a", "{}")]},
      {"role": "tool", "content": "A"}, {"role": "tool", "content": "again"}],
     "messages[2].tool_call_id: missing, and no earlier assistant tool call is waiting for a result"),
    ([{"role": "assistant", "tool_calls": [call("1", "a", "{}")]}, {"role": "tool", "name": "b", "content": "B"}],
     "messages[1].tool_call_id: missing, and no earlier assistant tool call to 'b' is waiting for a result"),
    ([{"role": "assistant", "tool_calls": [call("1", "a", "{}")]}, {"role": "tool", "tool_call_id": 1, "content": "A"}],
     "messages[1].tool_call_id: expected a string, found int"),
    ([{"role": "assistant", "tool_calls": [call("1", "a", "{}")]},
      {"role": "tool", "tool_call_id": "1", "content": {"when": object()}}],
     "messages[1].content: cannot be encoded as JSON: Object of type object is not JSON serializable"),
    ([{"role": "assistant", "tool_calls": [call("1", "a", "{}")]},
      {"role": "tool", "tool_call_id": "1", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
     "messages[1].content[0]: content part of type 'image_url' cannot be rendered in harmony "
     "(only text parts: text, input_text, output_text, refusal)"),
])
def test_results_that_answer_no_call_are_refused(messages, message):
    test_bad_messages_name_the_index(messages, message)


@pytest.mark.parametrize(("content", "text"), [
    ({"temp": 21, "city": "Zürich", "tags": ["a", "b"]}, '{"temp":21,"city":"Zürich","tags":["a","b"]}'),
    ([{"temp": 21}, {"temp": 22}], '[{"temp":21},{"temp":22}]'),
    ([1, "two", None], '[1,"two",null]'),
    (["a", {"type": "text", "text": "b"}], '["a",{"type":"text","text":"b"}]'),
    ({}, "{}"),
    ('{"temp": 21}', '{"temp": 21}'),  # a string is kept as it is
])
def test_object_and_list_results_are_encoded_as_json_once(content, text):
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}")]},
        {"role": "tool", "tool_call_id": "1", "content": content},
    ])
    assert body(convo)[1] == tool_result("functions.a", text)


def test_result_content_parts_are_text_not_json():
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "a", "{}")]},
        {"role": "tool", "content": [{"type": "text", "text": "x"}, {"type": "output_text", "text": "y"}]},
    ])
    assert body(convo)[1].content == [TextContent(text="xy")]


def test_a_json_result_renders_once_encoded(enc):
    convo = conversation_from_chat([
        {"role": "assistant", "tool_calls": [call("1", "get_weather", {"city": "Paris"})]},
        {"role": "tool", "content": {"temp": 21, "sunny": True}},
    ])
    tokens = enc.render_conversation(Conversation.from_messages(body(convo)))
    assert enc.decode_utf8(tokens) == (
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>'
        '{"city":"Paris"}<|call|><|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>'
        '{"temp":21,"sunny":true}<|end|>')


@pytest.mark.parametrize("system", [{"role": "system", "content": ""}, {"role": "system", "content": None},
                                    {"role": "system"}, {"role": "developer", "content": [{"type": "text", "text": ""}]},
                                    {"role": "system", "content": []}])
def test_an_empty_system_prompt_adds_no_developer_message(system):
    convo = conversation_from_chat([system, {"role": "user", "content": "Hi"}])
    assert convo.messages == [Message.from_role_and_content(Role.SYSTEM, SystemContent.new()),
                              Message.from_role_and_content(Role.USER, "Hi")]


def test_an_empty_system_prompt_with_tools_adds_no_instructions(enc):
    convo = conversation_from_chat([{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}], [WEATHER])
    developer = convo.messages[1].content[0]
    assert developer.instructions is None
    assert enc.decode_utf8(enc.render(convo.messages[1])) == (
        "<|start|>developer<|message|># Tools\n\n## functions\n\nnamespace functions {\n\n// Current weather.\n"
        "type get_weather = (_: {\ncity: string,\n}) => any;\n\n} // namespace functions<|end|>")


def test_empty_system_texts_are_skipped_and_blank_ones_kept():
    convo = conversation_from_chat([{"role": "system", "content": ""}, {"role": "developer", "content": "Be brief."},
                                    {"role": "system", "content": None}, {"role": "user", "content": "Hi"}])
    assert convo.messages[1] == Message.from_role_and_content(
        Role.DEVELOPER, DeveloperContent.new().with_instructions("Be brief."))
    convo = conversation_from_chat([{"role": "system", "content": " "}, {"role": "user", "content": "Hi"}])
    assert convo.messages[1].content[0].instructions == " "
