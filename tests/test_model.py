"""The data model: the same shapes, defaults and builders as ``openai_harmony``.

Every expected dict and JSON string below is what oss-harmony 0.0.11 returns
for the same object (pasted from running the reference). Where the reference
fails with ``KeyError``/``TypeError``/``AttributeError`` on malformed data,
harmony_grammar raises ``HarmonyDataError`` (a ``HarmonyError`` that is also a
``ValueError``) or pydantic's ``ValidationError``, naming the field.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from harmony_grammar import (
    Author,
    ChannelConfig,
    Conversation,
    DeveloperContent,
    HarmonyDataError,
    HarmonyError,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    RenderOptions,
    Role,
    SystemContent,
    TextContent,
    ToolDescription,
    ToolNamespaceConfig,
)

IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
DEFAULT_CHANNELS = {"valid_channels": ["analysis", "commentary", "final"], "channel_required": True}


# -- the objects, and the reference's to_dict / to_json for each --------------------------


def user_message() -> Message:
    return Message.from_role_and_content(Role.USER, "What is 2 + 2?")


def tool_message() -> Message:
    return (
        Message.from_author_and_content(Author.new(Role.TOOL, "functions.lookup_weather"), '{"temperature": 20}')
        .with_channel("commentary")
        .with_recipient("assistant")
        .with_content_type("json")
    )


def default_system_message() -> Message:
    return Message.from_role_and_content(Role.SYSTEM, SystemContent.new())


def full_system_message() -> Message:
    system = (
        SystemContent.new()
        .with_model_identity("Bot")
        .with_reasoning_effort(ReasoningEffort.HIGH)
        .with_conversation_start_date("2025-06-28")
        .with_knowledge_cutoff("2021-01")
        .with_required_channels(["analysis", "final"])
        .with_tools(ToolNamespaceConfig(name="notes", description="d", tools=[ToolDescription.new("n", "N")]))
    )
    return Message.from_role_and_content(Role.SYSTEM, system)


def developer_message() -> Message:
    developer = (
        DeveloperContent.new()
        .with_instructions("Be terse.")
        .with_function_tools([
            ToolDescription.new(
                "get", "Gets.",
                parameters={"type": "object", "properties": {"x": {"type": "number", "default": 1.5}}},
            ),
            ToolDescription.new("ping", "Pings."),
        ])
    )
    return Message.from_role_and_content(Role.DEVELOPER, developer)


def multi_content_message() -> Message:
    return (
        Message.from_role_and_contents(Role.ASSISTANT, [TextContent(text="a"), TextContent(text="b")])
        .adding_content("c")
        .with_channel("final")
    )


def named_user_message() -> Message:
    return Message.from_author_and_content(Author(role=Role.USER, name="bob"), "hi")


MESSAGES = {
    "user": (
        user_message,
        {"role": "user", "name": None, "content": [{"type": "text", "text": "What is 2 + 2?"}]},
        '{"role": "user", "name": null, "content": [{"type": "text", "text": "What is 2 + 2?"}]}',
    ),
    "tool": (
        tool_message,
        {
            "role": "tool",
            "name": "functions.lookup_weather",
            "content": [{"type": "text", "text": '{"temperature": 20}'}],
            "channel": "commentary",
            "recipient": "assistant",
            "content_type": "json",
        },
        '{"role": "tool", "name": "functions.lookup_weather", "content": [{"type": "text", "text": '
        '"{\\"temperature\\": 20}"}], "channel": "commentary", "recipient": "assistant", "content_type": "json"}',
    ),
    "default_system": (
        default_system_message,
        {
            "role": "system",
            "name": None,
            "content": [{
                "model_identity": IDENTITY,
                "reasoning_effort": "Medium",
                "knowledge_cutoff": "2024-06",
                "channel_config": DEFAULT_CHANNELS,
                "type": "system_content",
            }],
        },
        '{"role": "system", "name": null, "content": [{"model_identity": "You are ChatGPT, a large language '
        'model trained by OpenAI.", "reasoning_effort": "Medium", "knowledge_cutoff": "2024-06", '
        '"channel_config": {"valid_channels": ["analysis", "commentary", "final"], "channel_required": true}, '
        '"type": "system_content"}]}',
    ),
    "full_system": (
        full_system_message,
        {
            "role": "system",
            "name": None,
            "content": [{
                "model_identity": "Bot",
                "reasoning_effort": "High",
                "conversation_start_date": "2025-06-28",
                "knowledge_cutoff": "2021-01",
                "channel_config": {"valid_channels": ["analysis", "final"], "channel_required": True},
                "tools": {"notes": {"name": "notes", "description": "d", "tools": [{"name": "n", "description": "N"}]}},
                "type": "system_content",
            }],
        },
        '{"role": "system", "name": null, "content": [{"model_identity": "Bot", "reasoning_effort": "High", '
        '"conversation_start_date": "2025-06-28", "knowledge_cutoff": "2021-01", "channel_config": '
        '{"valid_channels": ["analysis", "final"], "channel_required": true}, "tools": {"notes": {"name": '
        '"notes", "description": "d", "tools": [{"name": "n", "description": "N"}]}}, "type": "system_content"}]}',
    ),
    "developer": (
        developer_message,
        {
            "role": "developer",
            "name": None,
            "content": [{
                "instructions": "Be terse.",
                "tools": {
                    "functions": {
                        "name": "functions",
                        "tools": [
                            {
                                "name": "get",
                                "description": "Gets.",
                                "parameters": {
                                    "type": "object",
                                    "properties": {"x": {"type": "number", "default": 1.5}},
                                },
                            },
                            {"name": "ping", "description": "Pings."},
                        ],
                    },
                },
                "type": "developer_content",
            }],
        },
        '{"role": "developer", "name": null, "content": [{"instructions": "Be terse.", "tools": {"functions": '
        '{"name": "functions", "tools": [{"name": "get", "description": "Gets.", "parameters": {"type": '
        '"object", "properties": {"x": {"type": "number", "default": 1.5}}}}, {"name": "ping", "description": '
        '"Pings."}]}}, "type": "developer_content"}]}',
    ),
    "multi_content": (
        multi_content_message,
        {
            "role": "assistant",
            "name": None,
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}, {"type": "text", "text": "c"}],
            "channel": "final",
        },
        '{"role": "assistant", "name": null, "content": [{"type": "text", "text": "a"}, {"type": "text", '
        '"text": "b"}, {"type": "text", "text": "c"}], "channel": "final"}',
    ),
    "named_user": (
        named_user_message,
        {"role": "user", "name": "bob", "content": [{"type": "text", "text": "hi"}]},
        '{"role": "user", "name": "bob", "content": [{"type": "text", "text": "hi"}]}',
    ),
}


@pytest.mark.parametrize("key", list(MESSAGES))
def test_message_to_dict(key):
    build, expected, _ = MESSAGES[key]
    out = build().to_dict()
    assert out == expected
    assert list(out) == list(expected)  # key order too: to_json depends on it


@pytest.mark.parametrize("key", list(MESSAGES))
def test_message_to_json(key):
    build, _, expected = MESSAGES[key]
    assert build().to_json() == expected


@pytest.mark.parametrize("key", list(MESSAGES))
def test_message_round_trips(key):
    message = MESSAGES[key][0]()
    assert Message.from_dict(message.to_dict()) == message
    assert Message.from_dict(json.loads(message.to_json())) == message


def test_message_to_dict_keeps_enum_members():
    out = user_message().to_dict()
    assert out["role"] is Role.USER
    assert default_system_message().to_dict()["content"][0]["reasoning_effort"] is ReasoningEffort.MEDIUM


def test_system_content_without_optional_fields_does_not_round_trip():
    """As in the reference: to_dict drops None fields, and from_dict brings the defaults back."""
    content = SystemContent(model_identity=None, reasoning_effort=None, knowledge_cutoff=None, channel_config=None)
    message = Message.from_role_and_content(Role.SYSTEM, content)
    assert message.to_dict() == {"role": "system", "name": None, "content": [{"type": "system_content"}]}
    assert message.to_json() == '{"role": "system", "name": null, "content": [{"type": "system_content"}]}'
    restored = Message.from_dict(message.to_dict())
    assert restored != message
    assert restored.content == [SystemContent.new()]


def test_conversation_to_dict_and_json():
    convo = Conversation.from_messages([user_message(), tool_message()])
    assert convo.to_dict() == {"messages": [MESSAGES["user"][1], MESSAGES["tool"][1]]}
    assert convo.to_json() == '{"messages": [' + MESSAGES["user"][2] + ", " + MESSAGES["tool"][2] + "]}"


def test_conversation_round_trip_and_iteration():
    convo = Conversation.from_messages([build() for build, _, _ in MESSAGES.values()])
    assert Conversation.from_json(convo.to_json()) == convo
    assert Conversation.from_json(convo.to_json().encode()) == convo
    assert [m.author.role for m in convo] == [
        Role.USER, Role.TOOL, Role.SYSTEM, Role.SYSTEM, Role.DEVELOPER, Role.ASSISTANT, Role.USER,
    ]
    assert Conversation.from_json('{"messages": []}') == Conversation()


# -- from_dict forms ---------------------------------------------------------------------------


def test_from_dict_plain_string_content():
    message = Message.from_dict({"role": "user", "content": "hello"})
    assert message == Message.from_role_and_content(Role.USER, "hello")
    assert message.to_dict() == {"role": "user", "name": None, "content": [{"type": "text", "text": "hello"}]}


def test_from_dict_all_header_fields():
    message = Message.from_dict({
        "role": "assistant", "name": "x", "content": [{"type": "text", "text": "t"}],
        "channel": "c", "recipient": "r", "content_type": "ct",
    })
    assert message == Message(
        author=Author(role=Role.ASSISTANT, name="x"), content=[TextContent(text="t")],
        channel="c", recipient="r", content_type="ct",
    )


def test_from_dict_partial_system_content_gets_defaults():
    message = Message.from_dict({
        "role": "system",
        "content": [{"type": "system_content", "reasoning_effort": "High", "conversation_start_date": "2025-01-01"}],
    })
    assert message.to_dict() == {
        "role": "system",
        "name": None,
        "content": [{
            "model_identity": IDENTITY,
            "reasoning_effort": "High",
            "conversation_start_date": "2025-01-01",
            "knowledge_cutoff": "2024-06",
            "channel_config": DEFAULT_CHANNELS,
            "type": "system_content",
        }],
    }


def test_from_dict_ignores_unknown_content_fields():
    message = Message.from_dict({"role": "system", "content": [{"type": "system_content", "bogus": 1}]})
    assert message == default_system_message()


def test_content_from_dict():
    assert SystemContent.from_dict({"model_identity": "X", "reasoning_effort": "Low"}).model_dump() == {
        "model_identity": "X",
        "reasoning_effort": "Low",
        "conversation_start_date": None,
        "knowledge_cutoff": "2024-06",
        "channel_config": DEFAULT_CHANNELS,
        "tools": None,
    }
    assert DeveloperContent.from_dict({"instructions": "I"}).model_dump() == {
        "instructions": "I", "tools": None, "response_formats": None}


# -- defaults and builders --------------------------------------------------------------------


def test_system_content_defaults():
    content = SystemContent.new()
    assert content.model_dump() == {
        "model_identity": IDENTITY,
        "reasoning_effort": "Medium",
        "conversation_start_date": None,
        "knowledge_cutoff": "2024-06",
        "channel_config": DEFAULT_CHANNELS,
        "tools": None,
    }
    assert content.reasoning_effort is ReasoningEffort.MEDIUM
    assert content.to_dict() == {
        "model_identity": IDENTITY,
        "reasoning_effort": "Medium",
        "knowledge_cutoff": "2024-06",
        "channel_config": DEFAULT_CHANNELS,
        "type": "system_content",
    }
    assert SystemContent() == content


def test_system_content_defaults_are_not_shared():
    first = SystemContent.new()
    first.channel_config.valid_channels.append("extra")
    assert SystemContent.new().channel_config == ChannelConfig(**DEFAULT_CHANNELS)


def test_developer_content_defaults():
    assert DeveloperContent.new().model_dump() == {"instructions": None, "tools": None, "response_formats": None}
    assert DeveloperContent.new().to_dict() == {"type": "developer_content"}


def test_builders_return_the_same_object():
    content = SystemContent.new()
    assert content.with_model_identity("m") is content
    assert content.with_reasoning_effort(ReasoningEffort.LOW) is content
    assert content.with_conversation_start_date("d") is content
    assert content.with_knowledge_cutoff("k") is content
    assert content.with_channel_config(ChannelConfig(valid_channels=["a"], channel_required=False)) is content
    assert content.with_browser_tool() is content
    assert content.model_dump(exclude={"tools"}) == {
        "model_identity": "m",
        "reasoning_effort": "Low",
        "conversation_start_date": "d",
        "knowledge_cutoff": "k",
        "channel_config": {"valid_channels": ["a"], "channel_required": False},
    }
    message = Message.from_role_and_content(Role.USER, "x")
    assert message.with_channel("c") is message
    assert message.with_recipient("r") is message
    assert message.with_content_type("t") is message
    assert message.adding_content(TextContent(text="y")) is message
    assert message.content == [TextContent(text="x"), TextContent(text="y")]


def test_with_tools_keys_namespaces_by_name():
    content = SystemContent.new().with_python_tool().with_browser_tool()
    assert list(content.tools) == ["python", "browser"]
    replacement = ToolNamespaceConfig(name="python", description="mine", tools=[])
    content.with_tools(replacement)
    assert list(content.tools) == ["python", "browser"]
    assert content.tools["python"] is replacement


def test_with_function_tools():
    tools = [ToolDescription.new("a", "A."), ToolDescription.new("b", "B.", parameters={"type": "object"})]
    content = DeveloperContent.new().with_function_tools(tools)
    assert content.model_dump() == {
        "instructions": None,
        "tools": {
            "functions": {
                "name": "functions",
                "description": None,
                "tools": [
                    {"name": "a", "description": "A.", "parameters": None},
                    {"name": "b", "description": "B.", "parameters": {"type": "object"}},
                ],
            },
        },
        "response_formats": None,
    }


def test_small_models():
    assert Author.new(Role.TOOL, "t").model_dump() == {"role": "tool", "name": "t"}
    assert ToolDescription.new("a", "b").model_dump() == {"name": "a", "description": "b", "parameters": None}
    assert ChannelConfig.require_channels(["x"]).model_dump() == {"valid_channels": ["x"], "channel_required": True}
    assert RenderConversationConfig().model_dump() == {"auto_drop_analysis": True}
    assert RenderOptions().model_dump() == {"conversation_has_function_tools": False}
    assert TextContent(text="x").to_dict() == {"type": "text", "text": "x"}


def test_enums():
    assert [r.value for r in Role] == ["user", "assistant", "system", "developer", "tool"]
    assert [e.value for e in ReasoningEffort] == ["Low", "Medium", "High"]
    assert Role("tool") is Role.TOOL
    with pytest.raises(ValueError) as info:
        Role("bogus")
    assert str(info.value) == "Unknown role: 'bogus'"


# -- the built-in tools --------------------------------------------------------------------------


BROWSER = {
    "name": "browser",
    "description": (
        "Tool for browsing.\nThe `cursor` appears in brackets before each browsing display: `[{cursor}]`.\n"
        "Cite information from the tool using the following format:\n"
        "`【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.\n"
        "Do not quote more than 10 words directly from the tool output.\nsources=web (default: web)"
    ),
    "tools": [
        {
            "name": "search",
            "description": "Searches for information related to `query` and displays `topn` results.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "topn": {"type": "number", "default": 10},
                    "source": {"type": "string"},
                },
                "required": ["query"],
            },
        },
        {
            "name": "open",
            "description": (
                "Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, "
                "showing `num_lines` lines.\nValid link ids are displayed with the formatting: `【{id}†.*】`.\n"
                "If `cursor` is not provided, the most recent page is implied.\nIf `id` is a string, it is "
                "treated as a fully qualified URL associated with `source`.\nIf `loc` is not provided, the "
                "viewport will be positioned at the beginning of the document or centered on the most relevant "
                "passage, if available.\nUse this function without `id` to scroll to a new location of an "
                "opened page."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "id": {"type": ["number", "string"], "default": -1},
                    "cursor": {"type": "number", "default": -1},
                    "loc": {"type": "number", "default": -1},
                    "num_lines": {"type": "number", "default": -1},
                    "view_source": {"type": "boolean", "default": False},
                    "source": {"type": "string"},
                },
            },
        },
        {
            "name": "find",
            "description": "Finds exact matches of `pattern` in the current page, or the page given by `cursor`.",
            "parameters": {
                "type": "object",
                "properties": {
                    "pattern": {"type": "string"},
                    "cursor": {"type": "number", "default": -1},
                },
                "required": ["pattern"],
            },
        },
    ],
}

PYTHON = {
    "name": "python",
    "description": (
        "Use this tool to execute Python code in your chain of thought. The code will not be shown to the "
        "user. This tool should be used for internal reasoning, but not for code that is intended to be "
        "visible to the user (e.g. when creating plots, tables, or files).\n\nWhen you send a message "
        "containing Python code to python, it will be executed in a stateful Jupyter notebook environment. "
        "python will respond with the output of the execution or time out after 120.0 seconds. The drive at "
        "'/mnt/data' can be used to save and persist user files. Internet access for this session is UNKNOWN. "
        "Depends on the cluster."
    ),
    "tools": [],
}


def test_browser_tool_config():
    dumped = ToolNamespaceConfig.browser().model_dump()
    assert dumped == BROWSER
    assert json.dumps(dumped) == json.dumps(BROWSER)  # key order matters for rendering


def test_python_tool_config():
    dumped = ToolNamespaceConfig.python().model_dump()
    assert dumped == PYTHON
    assert json.dumps(dumped) == json.dumps(PYTHON)


def test_builtin_tool_configs_are_fresh_objects():
    first = ToolNamespaceConfig.browser()
    first.tools.clear()
    assert len(ToolNamespaceConfig.browser().tools) == 3


# -- malformed data -------------------------------------------------------------------------------

ROLES_TEXT = "(expected one of 'user', 'assistant', 'system', 'developer', 'tool')"
CONTENT_TYPES_TEXT = "(expected one of 'text', 'system_content', 'developer_content')"


def test_conversation_of_non_messages_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        Conversation.from_messages([SystemContent.new()])
    assert "Input should be a valid dictionary or instance of Message" in str(info.value)
    assert info.value.errors()[0]["loc"] == ("messages", 0)


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, f"message.role: missing {ROLES_TEXT}"),
        ({"role": "user"}, "message.content: missing (expected a string or a list of contents)"),
        ({"role": "bogus", "content": []}, f"message.role: unknown role 'bogus' {ROLES_TEXT}"),
        ({"role": None, "content": []}, f"message.role: unknown role None {ROLES_TEXT}"),
        ({"role": "user", "content": [{"type": "image"}]},
         f"message.content[0].type: unknown content type 'image' {CONTENT_TYPES_TEXT}"),
        ({"role": "user", "content": [{"text": "x"}]},
         f"message.content[0].type: unknown content type None {CONTENT_TYPES_TEXT}"),
        ({"role": "user", "content": [{"type": "text", "text": "ok"}, "x"]},
         "message.content[1]: expected an object with a 'type', found str"),
        ({"role": "user", "content": 5}, "message.content: expected a string or a list, found int"),
        ({"role": "user", "content": None}, "message.content: expected a string or a list, found NoneType"),
        ("x", "message: expected an object, found str"),
        (None, "message: expected an object, found NoneType"),
    ],
)
def test_message_from_malformed_dict(data, message):
    with pytest.raises(HarmonyDataError) as info:
        Message.from_dict(data)
    assert isinstance(info.value, HarmonyError)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "data, model, loc",
    [
        ({"role": "user", "content": [{"type": "text"}]}, "TextContent", ("text",)),
        ({"role": "user", "content": [{"type": "text", "text": 5}]}, "TextContent", ("text",)),
        ({"role": "user", "name": 5, "content": []}, "Author", ("name",)),
        ({"role": "user", "content": [], "channel": 5}, "Message", ("channel",)),
        ({"role": "system", "content": [{"type": "system_content", "reasoning_effort": "Extreme"}]},
         "SystemContent", ("reasoning_effort",)),
        ({"role": "developer", "content": [{"type": "developer_content", "tools": {"functions": {"name": "functions"}}}]},
         "DeveloperContent", ("tools", "functions", "tools")),
    ],
)
def test_message_from_dict_with_wrong_field_values(data, model, loc):
    with pytest.raises(ValidationError) as info:
        Message.from_dict(data)
    assert info.value.title == model
    assert info.value.errors()[0]["loc"] == loc


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not json", "conversation JSON, line 1 column 1: Expecting value"),
        ('{"messages": [}', "conversation JSON, line 1 column 15: Expecting value"),
        ("{}", "conversation.messages: missing"),
        ("[]", "conversation: expected an object, found list"),
        ('{"messages": 5}', "conversation.messages: expected a list, found int"),
        ('{"messages": null}', "conversation.messages: missing"),
        ('{"messages": [{"role": "user", "content": [{"type": "nope"}]}]}',
         f"messages[0].content[0].type: unknown content type 'nope' {CONTENT_TYPES_TEXT}"),
        ('{"messages": [{"role": "user", "content": "ok"}, {"content": "x"}]}', f"messages[1].role: missing {ROLES_TEXT}"),
        ('{"messages": [{"role": "user", "content": "ok"}, 7]}', "messages[1]: expected an object, found int"),
        (None, "conversation JSON: expected str or bytes, found NoneType"),
    ],
)
def test_conversation_from_malformed_json(payload, message):
    with pytest.raises(HarmonyDataError) as info:
        Conversation.from_json(payload)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "build, model, loc",
    [
        (lambda: Author(role="bogus"), "Author", ("role",)),
        (lambda: Message(content=[]), "Message", ("author",)),
        (lambda: ToolDescription(name="x"), "ToolDescription", ("description",)),
        (lambda: ToolNamespaceConfig(name="x"), "ToolNamespaceConfig", ("tools",)),
        (lambda: ChannelConfig(valid_channels="abc", channel_required=True), "ChannelConfig", ("valid_channels",)),
    ],
)
def test_constructors_validate(build, model, loc):
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.title == model
    assert info.value.errors()[0]["loc"] == loc


def test_response_formats_round_trip_through_dicts_and_json():
    dev = (DeveloperContent.new().with_response_format("a", {"type": "string"}, "One word.")
           .with_response_format("b", {"type": "object", "properties": {}}))
    assert dev.to_dict() == {"type": "developer_content", "response_formats": [
        {"name": "a", "description": "One word.", "schema": {"type": "string"}},
        {"name": "b", "schema": {"type": "object", "properties": {}}}]}
    convo = Conversation.from_messages([Message.from_role_and_content(Role.DEVELOPER, dev)])
    assert Conversation.from_json(convo.to_json()) == convo
    assert Conversation.from_json(convo.to_json()).messages[0].content[0].response_formats[1].schema_ == {
        "type": "object", "properties": {}}


def test_a_response_format_needs_a_schema_object():
    with pytest.raises(ValidationError, match="schema"):
        DeveloperContent.new().with_response_format("a", "not a schema")  # type: ignore[arg-type]
