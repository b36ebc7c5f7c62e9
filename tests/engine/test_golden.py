"""The reference's own scenarios, checked against its recorded expected output.

The expected renderings live in ``tests/golden/<dist>-<version>/``, written
by ``scripts/make_golden.py`` from the references themselves: decoded text
with the special tokens written literally (or, for two parsing scenarios,
whitespace-separated token ids). Each test rebuilds the scenario
with harmony_grammar's API and compares exactly as the reference's test-suite
does (reading the text, stripping trailing whitespace, encoding it with every
special token allowed). Every test runs twice: in the default dialect against
oss-harmony 0.0.11's files, and in the openai-harmony dialect against 0.0.8's.
"""

from __future__ import annotations

import pytest

import harmony_grammar
from conftest import GOLDEN
from harmony_grammar import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyError,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    Role,
    SystemContent,
    ToolDescription,
)

GOLDEN_DIRS = {"oss-harmony": GOLDEN / "oss-harmony-0.0.11", "openai-harmony": GOLDEN / "openai-harmony-0.0.8"}
GOLDEN_DIR = GOLDEN_DIRS["oss-harmony"]


@pytest.fixture(params=sorted(GOLDEN_DIRS, reverse=True))
def enc(request):
    """The encoding in each dialect; the golden helpers read that dialect's reference files."""
    global GOLDEN_DIR
    GOLDEN_DIR = GOLDEN_DIRS[request.param]
    assert GOLDEN_DIR.is_dir(), f"golden files for {request.param} not found at {GOLDEN_DIR}: run scripts/make_golden.py"
    return harmony_grammar.load_harmony_encoding("HarmonyGptOss", dialect=request.param)


IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."



def golden_text(name: str) -> str:
    """The golden file's text, stripped of trailing whitespace as the reference's tests do."""
    return (GOLDEN_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip()


def golden_tokens(enc, name: str) -> list[int]:
    return enc.encode(golden_text(name), allowed_special="all")


def golden_ids(name: str) -> list[int]:
    """A golden file holding whitespace-separated token ids."""
    return [int(x) for x in (GOLDEN_DIR / f"{name}.txt").read_text(encoding="utf-8").split()]


def assert_tokens(enc, expected: list[int], actual: list[int]) -> None:
    if expected != actual:
        raise AssertionError(
            "tokens differ\n"
            f"expected: {expected}\nactual:   {actual}\n"
            f"expected text: {enc.decode(expected)!r}\nactual text:   {enc.decode(actual)!r}"
        )


# -- system messages -----------------------------------------------------------------


def test_simple_convo(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_model_identity(IDENTITY)),
        Message.from_role_and_content(Role.USER, "What is 2 + 2?"),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert_tokens(enc, golden_tokens(enc, "test_simple_convo"), tokens)


@pytest.mark.parametrize(
    "effort, name, with_instruction",
    [
        (ReasoningEffort.LOW, "test_simple_convo_low_effort", True),
        (ReasoningEffort.MEDIUM, "test_simple_convo_medium_effort", True),
        (ReasoningEffort.HIGH, "test_simple_convo_high_effort", True),
        (ReasoningEffort.LOW, "test_simple_convo_low_effort_no_instruction", False),
        (ReasoningEffort.MEDIUM, "test_simple_convo_medium_effort_no_instruction", False),
        (ReasoningEffort.HIGH, "test_simple_convo_high_effort_no_instruction", False),
    ],
)
def test_simple_convo_with_effort(enc, effort, name, with_instruction):
    system = SystemContent.new().with_model_identity(IDENTITY).with_reasoning_effort(effort)
    messages = [Message.from_role_and_content(Role.SYSTEM, system)]
    if with_instruction:
        developer = DeveloperContent.new().with_instructions("Answer the user's questions like a robot.")
        messages.append(Message.from_role_and_content(Role.DEVELOPER, developer))
    messages.append(
        Message.from_role_and_content(Role.USER, "What is the capital of the largest country in the world?")
    )
    tokens = enc.render_conversation_for_completion(Conversation.from_messages(messages), Role.ASSISTANT)
    assert_tokens(enc, golden_tokens(enc, name), tokens)


def test_reasoning_system_message(enc):
    system = (
        SystemContent.new()
        .with_model_identity(IDENTITY)
        .with_reasoning_effort(ReasoningEffort.MEDIUM)
        .with_required_channels(["analysis", "final"])
    )
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.USER, "What is 2 + 2?"),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert_tokens(enc, golden_tokens(enc, "test_reasoning_system_message"), tokens)


def test_reasoning_system_message_no_instruction(enc):
    system = (
        SystemContent.new()
        .with_model_identity(IDENTITY)
        .with_reasoning_effort(ReasoningEffort.HIGH)
        .with_required_channels(["analysis", "final"])
    )
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.USER, "What is the best place to eat candy in the world?"),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert_tokens(enc, golden_tokens(enc, "test_reasoning_system_message_no_instruction"), tokens)


def test_reasoning_system_message_with_dates(enc):
    system = (
        SystemContent.new()
        .with_model_identity(IDENTITY)
        .with_reasoning_effort(ReasoningEffort.MEDIUM)
        .with_conversation_start_date("2021-01-01")
        .with_knowledge_cutoff("2021-01")
        .with_required_channels(["analysis", "final"])
    )
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.USER, "What is 42 * pi?"),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert_tokens(enc, golden_tokens(enc, "test_reasoning_system_message_with_dates"), tokens)


# -- tools -------------------------------------------------------------------------------


WEATHER_TOOLS = [
    ToolDescription.new("get_location", "Gets the location of the user."),
    ToolDescription.new(
        "get_current_weather",
        "Gets the current weather in the provided location.",
        parameters={
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            },
            "required": ["location"],
        },
    ),
    ToolDescription.new(
        "get_multiple_weathers",
        "Gets the current weather in the provided list of locations.",
        parameters={
            "type": "object",
            "properties": {
                "locations": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": 'List of city and state, e.g. ["San Francisco, CA", "New York, NY"]',
                },
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            },
            "required": ["locations"],
        },
    ),
    ToolDescription.new(
        "kitchensink",
        "A function with various complex schemas.",
        parameters={
            "description": "params object",
            "type": "object",
            "properties": {
                "string": {
                    "type": "string",
                    "title": "STRING",
                    "description": "A string",
                    "examples": ["hello", "world"],
                },
                "string_nullable": {
                    "type": "string",
                    "nullable": True,
                    "description": "A nullable string",
                    "default": "the default",
                },
                "string_enum": {"type": "string", "enum": ["a", "b", "c"]},
                "oneof_string_or_number": {
                    "oneOf": [
                        {"type": "string", "default": "default_string_in_oneof"},
                        {"type": "number", "description": "numbers can happen too"},
                    ],
                    "description": "a oneof",
                    "default": 20,
                },
            },
        },
    ),
]


def test_render_functions_with_parameters(enc):
    system = SystemContent.new().with_reasoning_effort(ReasoningEffort.HIGH).with_conversation_start_date("2025-06-28")
    developer = DeveloperContent.new().with_instructions("Always respond in riddles").with_function_tools(WEATHER_TOOLS)
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.DEVELOPER, developer),
        Message.from_role_and_content(Role.USER, "What is the weather like in SF?"),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    name = "test_render_functions_with_parameters"
    assert enc.decode_utf8(tokens) == golden_text(name)
    assert_tokens(enc, golden_tokens(enc, name), tokens)


def test_no_tools(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_conversation_start_date("2025-06-28")),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert enc.decode_utf8(tokens) == golden_text("test_no_tools")
    assert_tokens(enc, golden_tokens(enc, "test_no_tools"), tokens)


def test_browser_tool_only(enc):
    system = SystemContent.new().with_conversation_start_date("2025-06-28").with_browser_tool()
    convo = Conversation.from_messages([Message.from_role_and_content(Role.SYSTEM, system)])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert enc.decode_utf8(tokens) == golden_text("test_browser_tool_only")
    assert_tokens(enc, golden_tokens(enc, "test_browser_tool_only"), tokens)


def test_browser_and_python_tool(enc):
    system = SystemContent.new().with_conversation_start_date("2025-06-28").with_browser_tool().with_python_tool()
    convo = Conversation.from_messages([Message.from_role_and_content(Role.SYSTEM, system)])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert enc.decode_utf8(tokens) == golden_text("test_browser_and_python_tool")
    assert_tokens(enc, golden_tokens(enc, "test_browser_and_python_tool"), tokens)


def test_browser_and_function_tool(enc):
    system = SystemContent.new().with_conversation_start_date("2025-06-28").with_browser_tool()
    developer = DeveloperContent.new().with_function_tools([
        ToolDescription.new(
            "lookup_weather",
            "Use this tool to lookup the weather in a given location. Call it with the parameter "
            "'location', can be any textual description of a location.",
            parameters={
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        )
    ])
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.DEVELOPER, developer),
    ])
    tokens = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert enc.decode_utf8(tokens) == golden_text("test_browser_and_function_tool")
    assert_tokens(enc, golden_tokens(enc, "test_browser_and_function_tool"), tokens)


# -- chain of thought ----------------------------------------------------------------------


def test_dropping_cot_by_default(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.USER, "What is 2 + 2?"),
        Message.from_role_and_content(
            Role.ASSISTANT, "User asks: “What is 2 + 2?” Simple arithmetic. Provide answer."
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "2 + 2 equals 4.").with_channel("final"),
        Message.from_role_and_content(Role.USER, "What about 9 / 2?"),
    ])
    name = "test_dropping_cot_by_default"
    explicit = enc.render_conversation_for_completion(
        convo, Role.ASSISTANT, RenderConversationConfig(auto_drop_analysis=True)
    )
    assert enc.decode_utf8(explicit) == golden_text(name)
    assert_tokens(enc, golden_tokens(enc, name), explicit)
    # "by default": no config behaves like auto_drop_analysis=True
    assert enc.render_conversation_for_completion(convo, Role.ASSISTANT) == explicit


def test_does_not_drop_if_ongoing_analysis(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.USER, "What is the weather in SF?"),
        Message.from_role_and_content(
            Role.ASSISTANT, "User asks: “What is the weather in SF?” We need to use lookup_weather tool."
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, '{"location": "San Francisco"}')
        .with_channel("commentary")
        .with_recipient("functions.lookup_weather")
        .with_content_type("<|constrain|>json"),
        Message.from_author_and_content(
            Author.new(Role.TOOL, "functions.lookup_weather"), '{"temperature": 20, "description": "sunny"}'
        ),
    ])
    tokens = enc.render_conversation_for_completion(
        convo, Role.ASSISTANT, RenderConversationConfig(auto_drop_analysis=True)
    )
    name = "test_does_not_drop_if_ongoing_analysis"
    assert enc.decode_utf8(tokens) == golden_text(name)
    # <|constrain|> is the special token, not its spelling
    assert_tokens(enc, golden_tokens(enc, name), tokens)
    assert tokens.count(200003) == 1


def test_preserve_cot(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.USER, "What is 2 + 2?"),
        Message.from_role_and_content(
            Role.ASSISTANT, 'User asks a simple question: "What is 2 + 2?" The answer: 4.'
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "2 + 2 equals 4.").with_channel("final"),
        Message.from_role_and_content(Role.USER, "What about 9 / 2?"),
    ])
    tokens = enc.render_conversation_for_completion(
        convo, Role.ASSISTANT, RenderConversationConfig(auto_drop_analysis=False)
    )
    assert enc.decode_utf8(tokens) == golden_text("test_preserve_cot")
    assert_tokens(enc, golden_tokens(enc, "test_preserve_cot"), tokens)


def test_keep_analysis_between_finals(enc):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.USER, "What is 2 + 2?"),
        Message.from_role_and_content(Role.ASSISTANT, "thinking 2+2").with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "4").with_channel("final"),
        Message.from_role_and_content(Role.USER, "What is 3 + 5?"),
        Message.from_role_and_content(Role.ASSISTANT, "thinking 3+5").with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "8").with_channel("final"),
    ])
    tokens = enc.render_conversation(convo)
    assert enc.decode_utf8(tokens) == golden_text("test_keep_analysis_between_finals")
    assert_tokens(enc, golden_tokens(enc, "test_keep_analysis_between_finals"), tokens)


# -- a tool's answer: rendering, then parsing it back ---------------------------------------


TOOL_RESPONSE = (
    Message.from_author_and_content(Author.new(Role.TOOL, "browser.search"), '{"result": "https://openai.com/"}')
    .with_channel("commentary")
    .with_recipient("assistant")
)


def test_tool_response_rendering(enc):
    tokens = enc.render(TOOL_RESPONSE)
    assert tokens[-1] == 200007  # <|end|>
    assert enc.decode_utf8(tokens[:-1]) == golden_text("test_tool_response_parsing")
    assert_tokens(enc, golden_tokens(enc, "test_tool_response_parsing"), tokens[:-1])


def test_tool_response_parsing(enc):
    tokens = enc.render(TOOL_RESPONSE)[:-1]
    assert enc.decode_utf8(tokens) == golden_text("test_tool_response_parsing")
    assert enc.parse_messages_from_completion_tokens(tokens, None) == [TOOL_RESPONSE]


# -- parsing completions -----------------------------------------------------------------


def test_simple_reasoning_response(enc):
    tokens = golden_ids("test_simple_reasoning_response")
    messages = enc.parse_messages_from_completion_tokens(tokens, role=Role.ASSISTANT)
    assert messages == [
        Message.from_role_and_content(
            Role.ASSISTANT, 'User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.'
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "2 + 2 = 4.").with_channel("final"),
    ]


def test_simple_tool_call(enc):
    tokens = golden_ids("test_simple_tool_call")
    messages = enc.parse_messages_from_completion_tokens(tokens, role=Role.ASSISTANT)
    assert messages == [
        Message.from_role_and_content(
            Role.ASSISTANT, 'User asks: "What is the weather in Tokyo?" We need to use lookup_weather tool.'
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, '{"location": "Tokyo"}')
        .with_channel("analysis")
        .with_recipient("lookup_weather")
        .with_content_type("code"),
    ]


STREAMED_MESSAGES = [
    Message.from_role_and_content(
        Role.ASSISTANT,
        'User asks "Who is the current US president?" It\'s 2025, presumably current president is Joe '
        "Biden? Actually as of 2025-07-28, there was a 2024 election. In 2024, President is probably "
        "President Biden still? But w\ne need up to date info. Let's browse to confirm.",
    ).with_channel("analysis"),
    Message.from_role_and_content(
        Role.ASSISTANT, '{"query": "current US president July 2025", "topn": 10, "source": "news"}'
    )
    .with_channel("commentary")
    .with_recipient("browser.search")
    .with_content_type("code"),
    Message.from_author_and_content(Author.new(Role.TOOL, "browser.search"), '{"result": "https://openai.com/"}')
    .with_channel("commentary")
    .with_recipient("assistant"),
]


def test_streamable_parser(enc):
    tokens = golden_tokens(enc, "test_streamable_parser")
    parser = harmony_grammar.StreamableParser(enc, Role.ASSISTANT)
    for token in tokens:
        parser.process(token)
    assert len(parser.messages) == 3
    assert parser.messages == STREAMED_MESSAGES


def test_streamable_parser_input_parses_in_one_go(enc):
    tokens = golden_tokens(enc, "test_streamable_parser")
    assert enc.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT) == STREAMED_MESSAGES


# -- the reference test-suite's parsing scenarios that have no golden file ------------------


def tokens_of(enc, text: str) -> list[int]:
    return enc.encode(text, allowed_special="all")


def stream(enc, tokens: list[int], role, strict: bool = True):
    parser = harmony_grammar.StreamableParser(enc, role, strict=strict)
    deltas = []
    for token in tokens:
        parser.process(token)
        if parser.last_content_delta is not None:
            deltas.append(parser.last_content_delta)
    return parser, "".join(deltas)


WEATHER_CALL = (
    Message.from_role_and_content(Role.ASSISTANT, '{"location": "Tokyo"}')
    .with_channel("commentary")
    .with_recipient("functions.get_weather")
    .with_content_type("<|constrain|>json")
)


def test_tool_call_with_constrain_tokenized_correctly(enc):
    text = (
        "<|start|>assistant to=functions.get_weather<|channel|>commentary"
        ' <|constrain|>json<|message|>{"location": "Tokyo"}<|call|>'
    )
    tokens = tokens_of(enc, text)
    assert enc.decode_utf8(tokens) == text
    assert enc.parse_messages_from_completion_tokens(tokens, role=None) == [WEATHER_CALL]
    rendered = enc.render_conversation(Conversation.from_messages([WEATHER_CALL]))
    if enc.dialect == "oss-harmony":
        # oss-harmony writes the recipient after the commentary channel when rendering it back
        assert rendered == tokens_of(
            enc,
            "<|start|>assistant<|channel|>commentary to=functions.get_weather"
            ' <|constrain|>json<|message|>{"location": "Tokyo"}<|call|>',
        )
    else:
        assert rendered == tokens  # openai-harmony renders it back as it came


def test_tool_call_with_constrain_marker_adjacent(enc):
    text = (
        "<|start|>assistant to=functions.get_weather<|channel|>commentary"
        '<|constrain|>json<|message|>{"location": "Tokyo"}<|call|>'
    )
    assert enc.parse_messages_from_completion_tokens(tokens_of(enc, text), role=None) == [WEATHER_CALL]


CHANNEL_FIRST_CALL_TEXT = (
    "<|start|>assistant<|channel|>commentary to=functions.get_weather"
    '<|constrain|>json<|message|>{"latitude":48.8566,"longitude":2.3522}<|call|>'
)
CHANNEL_FIRST_CALL = (
    Message.from_role_and_content(Role.ASSISTANT, '{"latitude":48.8566,"longitude":2.3522}')
    .with_channel("commentary")
    .with_recipient("functions.get_weather")
    .with_content_type("<|constrain|>json")
)


def test_tool_call_with_channel_before_recipient_and_constrain_adjacent(enc):
    tokens = tokens_of(enc, CHANNEL_FIRST_CALL_TEXT)
    assert enc.parse_messages_from_completion_tokens(tokens, role=None) == [CHANNEL_FIRST_CALL]


def test_streamable_parser_tool_call_with_constrain_adjacent(enc):
    parser, deltas = stream(enc, tokens_of(enc, CHANNEL_FIRST_CALL_TEXT), None)
    assert parser.messages == [CHANNEL_FIRST_CALL]
    assert deltas == '{"latitude":48.8566,"longitude":2.3522}'


def test_streamable_parser_constrained_output_without_recipient(enc):
    text = '<|start|>assistant<|channel|>final <|constrain|>json<|message|>{"result":true}<|return|>'
    parser, _ = stream(enc, tokens_of(enc, text), None)
    # oss-harmony 0.0.11 reads the constrained type as the recipient here (openai-harmony does not)
    assert parser.messages == [
        Message.from_role_and_content(Role.ASSISTANT, '{"result":true}')
        .with_channel("final")
        .with_recipient("<|constrain|>json")
    ]


MISSING_MESSAGE_TOKEN = {
    "plain": (
        "I must refuse<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>We must refuse<|end|>"
        "<|start|>assistant<|channel|>final<|message|>I'm sorry, but I can't help with that.<|return|>",
        [
            Message.from_role_and_content(Role.ASSISTANT, "I must refuse"),
            Message.from_role_and_content(Role.ASSISTANT, "We must refuse").with_channel("analysis"),
            Message.from_role_and_content(Role.ASSISTANT, "I'm sorry, but I can't help with that.").with_channel("final"),
        ],
    ),
    "channel": (
        "<|channel|>analysis I must refuse<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>We must refuse<|end|>"
        "<|start|>assistant<|channel|>final<|message|>I'm sorry, but I can't help with that.<|return|>",
        [
            Message.from_role_and_content(Role.ASSISTANT, "I must refuse").with_channel("analysis"),
            Message.from_role_and_content(Role.ASSISTANT, "We must refuse").with_channel("analysis"),
            Message.from_role_and_content(Role.ASSISTANT, "I'm sorry, but I can't help with that.").with_channel("final"),
        ],
    ),
    "tool_call": (
        "... Let's use the tool.<|end|>"
        "<|start|>assistant to=functions.get_weather<|channel|>commentary json"
        '<|message|>{"location": "Tokyo"}<|call|>',
        [
            Message.from_role_and_content(Role.ASSISTANT, "... Let's use the tool."),
            Message.from_role_and_content(Role.ASSISTANT, '{"location": "Tokyo"}')
            .with_channel("commentary")
            .with_recipient("functions.get_weather")
            .with_content_type("json"),
        ],
    ),
}


@pytest.mark.parametrize("key", list(MISSING_MESSAGE_TOKEN))
def test_streamable_parser_missing_message_token_lenient(enc, key):
    text, expected = MISSING_MESSAGE_TOKEN[key]
    parser, _ = stream(enc, tokens_of(enc, text), Role.ASSISTANT, strict=False)
    assert parser.messages == expected


@pytest.mark.parametrize("key", list(MISSING_MESSAGE_TOKEN))
def test_streamable_parser_missing_message_token_strict(enc, key):
    text, _ = MISSING_MESSAGE_TOKEN[key]
    with pytest.raises(HarmonyError, match="unexpected tokens remaining in message header"):
        stream(enc, tokens_of(enc, text), Role.ASSISTANT, strict=True)


def test_streamable_parser_invalid_utf8_decoding(enc):
    with pytest.raises(HarmonyError):
        enc.decode_utf8([9552, 9552])  # " \xf0\x9f" twice
    tokens = tokens_of(enc, "<|start|>assistant<|message|>") + [9552, 9552] + tokens_of(enc, "worked<|end|>")
    parser, _ = stream(enc, tokens, None)
    assert parser.messages == [Message.from_role_and_content(Role.ASSISTANT, " \ufffd \ufffdworked")]


@pytest.mark.parametrize("tail, content", [("XY", " \ufffdXY"), (" interesting", " \ufffd interesting")])
def test_streamable_parser_invalid_utf8_split_across_tokens(enc, tail, content):
    invalid = [9552] + enc.encode(tail)
    with pytest.raises(HarmonyError):
        enc.decode_utf8(invalid)
    tokens = tokens_of(enc, "<|start|>assistant<|message|>") + invalid + tokens_of(enc, "<|end|>")
    parser, _ = stream(enc, tokens, None)
    assert parser.messages == [Message.from_role_and_content(Role.ASSISTANT, content)]


def test_streamable_parser_invalid_utf8_without_end_of_message(enc):
    tokens = tokens_of(enc, "<|start|>assistant<|message|>") + [9552] + enc.encode(" interesting") + enc.encode(" story")
    parser, deltas = stream(enc, tokens, None)
    assert parser.messages == []
    assert parser.current_content == " \ufffd interesting story"
    assert deltas == " \ufffd interesting story"
    parser.process(enc.encode("Y")[0])
    assert parser.last_content_delta == "Y"
    assert parser.current_content == " \ufffd interesting storyY"


TRICKY_UTF8 = (
    "Hello Müller, Γειά σου, Привет, שלום, مرحبا, नमस्ते, こんにちは, 안녕하세요,"
    " 你好. Normalized (naïve) vs. decomposed (naïve) characters. "
    "Some emojis: 😊👋🏾👨👩👧👦🇺🇸."
)


def test_streamable_parser_tricky_utf8_decoding(enc):
    tokens = tokens_of(enc, "<|start|>assistant<|message|>") + enc.encode(TRICKY_UTF8) + tokens_of(enc, "<|end|>")
    parser, deltas = stream(enc, tokens, None)
    assert parser.messages == [Message.from_role_and_content(Role.ASSISTANT, TRICKY_UTF8)]
    assert deltas == TRICKY_UTF8
