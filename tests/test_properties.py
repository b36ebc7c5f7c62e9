"""Property tests (hypothesis): round trips, parser robustness, special-token safety, malformed data.

1. render -> parse gives back the same messages wherever the format can carry
   them. What survives was worked out from the header reader (and checked
   against oss-harmony 0.0.11, which reads headers the same way):

   - text survives exactly (any Unicode except lone surrogates, which rendering
     refuses); several text contents come back as one, an empty list as one
     empty text;
   - the author name of a tool survives, unless it is another role's name
     ("user", ...) or could not be told from a role (a lone word without a
     recipient or content type that does not start with "to="). The name of any
     other role does not survive ("user:bob" reads back as a tool), so those
     are generated without names;
   - recipient "all" is not rendered and comes back as None;
   - header fields survive if they hold no header-splitting whitespace (ASCII
     space, tab, LF, FF, CR), start and end with no Unicode White_Space
     (which the reader strips) and hold no "<|channel|>" / "<|constrain|>"
     spelling (which the reader treats as markers). A channel also ends at
     any White_Space and at "<". Other special-token spellings, control
     characters and NUL survive;
   - content types come back as rendered: in the default oss dialect always
     after "<|constrain|>" ("json" comes back as "<|constrain|>json"); in the
     openai-harmony dialect as written. A content type without a recipient
     comes back as the recipient (the reader takes a lone last word to be
     one), as in the reference.

2. Any list of ints, through batch parsing (strict and not) and the streaming
   parser, either succeeds or raises HarmonyError; the two parsers agree.
3. Whatever text is in whatever field, the rendered tokens hold exactly the
   special tokens the message structure dictates, at the places it dictates.
4. Malformed conversation data raises HarmonyError (HarmonyDataError) or
   pydantic's ValidationError naming the field, nothing else.
"""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
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
    Role,
    StreamableParser,
    SystemContent,
    TextContent,
    ToolDescription,
    ToolNamespaceConfig,
    load_harmony_encoding,
)

# Fixed, database-free runs: the same examples every time.
BASE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

DIALECTS = ["oss-harmony", "openai-harmony"]
C = "<|constrain|>"
START, MESSAGE, CHANNEL, CONSTRAIN, END, CALL, RETURN = 200006, 200008, 200005, 200003, 200007, 200012, 200002

# Unicode White_Space (Rust's char::is_whitespace, which the reference's trim uses) ...
RUST_WS = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
           "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# ... and the ASCII whitespace header words are split at (Rust's split_ascii_whitespace).
SPLIT_WS = " \t\n\x0c\r"
INNER_WS = [c for c in RUST_WS if c not in SPLIT_WS]  # survives inside a field, not at its ends

SPELLINGS = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|call|>", "<|return|>",
             "<|endoftext|>", "<|startoftext|>", "<|reserved_200013|>", "<|reserved_201088|>", "<|", "|>",
             "<|end", "<||>", "to=", "to=functions.f", "\x00", "\r\n", "\ufffd", "\u200b", "🙂", "é", "日本語"]
MARKERS = ("<|channel|>", "<|constrain|>")


@pytest.fixture(scope="module")
def encs():
    return {d: load_harmony_encoding("HarmonyGptOss", dialect=d) for d in DIALECTS}


# -- strategies --------------------------------------------------------------------------

any_char = st.characters(exclude_categories=("Cs",))
# Any text without lone surrogates, rich in special-token spellings.
any_text = st.lists(st.one_of(st.text(any_char, max_size=12), st.sampled_from(SPELLINGS)), max_size=6).map("".join)

# Not White_Space, though some look like it (Python's str.isspace is true for U+001C..U+001F).
TRICKY = ["\x1c", "\x1d", "\x1e", "\x1f", "\u200b", "\u180e", "\ufeff", "\x00", "\x7f", "<", ">", "|", "=", ":",
          "to=", "<|channel|", "<|constrain", "|>"]
_word_char = st.characters(exclude_categories=("Cs",), exclude_characters=RUST_WS)
_word_piece = st.one_of(st.text(_word_char, min_size=1, max_size=6),
                        st.sampled_from([s for s in SPELLINGS if s not in MARKERS and not any(c in RUST_WS for c in s)]),
                        st.sampled_from(TRICKY))
_word = st.lists(_word_piece, min_size=1, max_size=3).map("".join).filter(lambda s: not any(m in s for m in MARKERS))
# A header field that survives: a word, or two joined by whitespace the reader does not split at.
field = st.one_of(_word, st.tuples(_word, st.sampled_from(INNER_WS), _word).map("".join))
channel_value = st.one_of(
    st.sampled_from(["analysis", "commentary", "final"]),
    _word.map(lambda s: s.replace("<", "")).filter(bool),
)
OTHER_ROLES = {"user", "assistant", "system", "developer"}


@st.composite
def carried_message(draw, dialect: str):
    """A message the format carries, and the message parsing gives back."""
    role = draw(st.sampled_from(list(Role)))
    name = None
    if role is Role.TOOL:
        name = draw(st.one_of(st.sampled_from(["functions.get_weather", "browser.search", "python", "tool",
                                               "to=x"]), field).filter(lambda s: s not in OTHER_ROLES))
    channel = draw(st.none() | channel_value)
    recipient = draw(st.none() | st.sampled_from(["all", "functions.get_weather", "assistant", "", "to=x"]) | field)
    if dialect == "oss-harmony":
        content_type = draw(st.none() | st.sampled_from(["json", C + "json", "", C, "code"]) | field
                            | field.map(lambda s: C + s))
    else:
        content_type = draw(st.none() | st.sampled_from(["json", C + "json", C, "code"])
                            | field.filter(lambda s: not s.startswith("to=")) | field.map(lambda s: C + s))
    to = None if recipient == "all" else recipient
    if role is Role.TOOL and to is None and content_type is None and name != "tool" and not name.startswith("to="):
        recipient = to = "assistant"  # a lone word is read as a role, so a tool needs one more header word
    texts = draw(st.lists(any_text, max_size=3))
    msg = Message(author=Author(role=role, name=name), content=[TextContent(text=t) for t in texts],
                  channel=channel, recipient=recipient, content_type=content_type)
    ct = content_type
    if ct is not None and (dialect == "oss-harmony" or ct.startswith(C)):
        ct = C + ct.removeprefix(C)
    if ct is not None and to is None:
        to, ct = ct, None
    back = Message(author=Author(role=role, name=name), content=[TextContent(text="".join(texts))],
                   channel=channel, recipient=to, content_type=ct)
    return msg, back


def dicts(messages):
    return [m.to_dict() for m in messages]


def stream_parse(enc, tokens, role=None, strict=True):
    parser = StreamableParser(enc, role, strict=strict)
    for t in tokens:
        parser.process(t)
    parser.process_eos()
    return parser.messages


def kept(messages: list[Message]) -> list[Message]:
    """The default auto_drop_analysis rule: once the assistant's last message is final, analysis before the first final goes."""
    last = next((m for m in reversed(messages) if m.author.role is Role.ASSISTANT), None)
    if last is None or last.channel != "final":
        return messages
    first_final = next(i for i, m in enumerate(messages) if m.channel == "final")
    return [m for i, m in enumerate(messages) if not (i < first_final and m.channel == "analysis")]


# -- 1. round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(BASE, max_examples=150)
@given(data=st.data())
def test_render_then_parse_gives_back_the_messages(encs, dialect, data):
    enc = encs[dialect]
    pairs = data.draw(st.lists(carried_message(dialect), max_size=6))
    sent = Conversation.from_messages([m for m, _ in pairs])
    expected = dicts([b for _, b in pairs])
    no_drop = RenderConversationConfig(auto_drop_analysis=False)
    for tokens in (enc.render_conversation(sent, no_drop), enc.render_conversation_for_training(sent, no_drop)):
        assert dicts(enc.parse_messages_from_completion_tokens(tokens, None)) == expected
        assert dicts(enc.parse_messages_from_completion_tokens(tokens, None, strict=False)) == expected
        assert dicts(stream_parse(enc, tokens)) == expected


@settings(BASE, max_examples=60)
@given(data=st.data())
def test_round_trip_with_the_default_analysis_dropping(encs, data):
    enc = encs["oss-harmony"]
    pairs = data.draw(st.lists(carried_message("oss-harmony"), max_size=6))
    sent = [m for m, _ in pairs]
    tokens = enc.render_conversation(Conversation.from_messages(sent))
    back = {id(m): b for m, b in pairs}
    assert dicts(enc.parse_messages_from_completion_tokens(tokens, None)) == dicts(
        [back[id(m)] for m in kept(sent)])


@pytest.mark.parametrize("where", ["text", "channel", "recipient", "content_type", "name"])
@settings(BASE, max_examples=25)
@given(before=any_text, after=any_text, surrogate=st.integers(0xD800, 0xDFFF))
def test_lone_surrogates_are_refused(encs, where, before, after, surrogate):
    bad = before + chr(surrogate) + after
    msg = Message(author=Author(role=Role.TOOL, name=bad if where == "name" else "functions.f"),
                  content=[TextContent(text=bad if where == "text" else "x")],
                  channel=bad if where == "channel" else None,
                  recipient=bad if where == "recipient" else "assistant",
                  content_type=bad if where == "content_type" else None)
    with pytest.raises(HarmonyDataError) as info:
        encs["oss-harmony"].render_conversation(Conversation.from_messages([msg]))
    assert where in str(info.value) and "surrogate" in str(info.value)


@pytest.mark.parametrize("where", ["model_identity", "instructions", "tool_description"])
def test_lone_surrogates_in_structured_content_are_refused(encs, where):
    if where == "model_identity":
        msg = Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_model_identity("a\udc80b"))
    elif where == "instructions":
        msg = Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("\ud800"))
    else:
        msg = Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_function_tools(
            [ToolDescription.new("f", "x\udfffy")]))
    with pytest.raises(HarmonyDataError):
        encs["oss-harmony"].render(msg)


# -- 2. any ints: only HarmonyError, and batch == stream ----------------------------------------

EDGE_IDS = [-(2**70), -(2**32), -1, 0, 199997, 199998, 200000, 200013, 201088, 201089,
            2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**64, 10**40]
token_id = st.one_of(
    st.integers(200002, 200012),    # the structure tokens (twice as likely)
    st.integers(200002, 200012),
    st.integers(199998, 201088),    # every special token, reserved ones included
    st.integers(0, 255),            # single bytes: split UTF-8
    st.integers(0, 201088),
    st.sampled_from(EDGE_IDS),
    st.integers(-(2**40), 2**40),
    st.integers(),                  # unbounded, huge and negative
)
roles = st.sampled_from([None, *Role])


def _outcome(call):
    try:
        return ("ok", dicts(call()))
    except HarmonyError:
        return ("HarmonyError", None)


@settings(BASE, max_examples=1500)
@given(tokens=st.lists(token_id, max_size=40), role=roles, strict=st.booleans())
def test_parsing_any_ints_raises_only_harmony_error(encs, tokens, role, strict):
    enc = encs["oss-harmony"]
    batch = _outcome(lambda: enc.parse_messages_from_completion_tokens(tokens, role, strict=strict))
    stream = _outcome(lambda: stream_parse(enc, tokens, role, strict))
    assert batch == stream


@settings(BASE, max_examples=300)
@given(prefix=st.lists(token_id, max_size=10), junk=st.one_of(
    st.none(), st.floats(), st.text(max_size=3), st.binary(max_size=3), st.lists(st.integers(), max_size=2),
    st.complex_numbers(), st.just(object())), role=roles, strict=st.booleans())
def test_non_integer_ids_raise_harmony_error(encs, prefix, junk, role, strict):
    enc = encs["oss-harmony"]
    tokens = prefix + [junk]
    with pytest.raises(HarmonyError):
        enc.parse_messages_from_completion_tokens(tokens, role, strict=strict)
    with pytest.raises(HarmonyError):
        stream_parse(enc, tokens, role, strict)


@settings(BASE, max_examples=200)
@given(tokens=st.lists(token_id, max_size=25), role=roles, strict=st.booleans())
def test_stream_state_stays_readable_after_errors(encs, tokens, role, strict):
    """After a HarmonyError the parser still answers every property and takes more tokens."""
    enc = encs["oss-harmony"]
    parser = StreamableParser(enc, role, strict=strict)
    for t in tokens + [None]:
        try:
            parser.process_eos() if t is None else parser.process(t)
        except HarmonyError:
            pass
        parser.current_content, parser.current_role, parser.current_channel, parser.current_recipient
        parser.current_content_type, parser.last_content_delta, parser.state, parser.state_data
        parser.messages, parser.tokens


# -- 3. special tokens only where the structure puts them --------------------------------------

SCHEMA_KEYS = st.sampled_from(["location", "unit", "q", "日本"]) | any_text.filter(bool)


@st.composite
def parameters(draw):
    props = {}
    for key in draw(st.lists(SCHEMA_KEYS, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["string", "number", "array", "object"]))
        prop: dict = {"type": kind}
        if draw(st.booleans()):
            prop["description"] = draw(any_text)
        if kind == "string" and draw(st.booleans()):
            prop["enum"] = draw(st.lists(any_text, min_size=1, max_size=3))
        if kind == "array":
            prop["items"] = {"type": "string", "description": draw(any_text)}
        if kind == "object":
            prop["properties"] = {draw(any_text): {"type": "string", "description": draw(any_text)}}
        if draw(st.booleans()):
            prop["default"] = draw(st.one_of(any_text, st.integers(-10, 10), st.none()))
        props[key] = prop
    out = {"type": "object", "properties": props}
    if props and draw(st.booleans()):
        out["required"] = [next(iter(props))]
    if draw(st.booleans()):
        out["description"] = draw(any_text)
    return out


@st.composite
def namespace(draw, name=None):
    tools = [ToolDescription(name=draw(any_text), description=draw(any_text),
                             parameters=draw(st.none() | parameters()))
             for _ in range(draw(st.integers(0, 2)))]
    return ToolNamespaceConfig(name=name if name is not None else draw(any_text),
                               description=draw(st.none() | any_text), tools=tools)


@st.composite
def system_message(draw):
    content = SystemContent(
        model_identity=draw(st.none() | any_text),
        reasoning_effort=draw(st.none() | st.sampled_from(list(ReasoningEffort))),
        conversation_start_date=draw(st.none() | any_text),
        knowledge_cutoff=draw(st.none() | any_text),
        channel_config=draw(st.none() | st.builds(ChannelConfig, valid_channels=st.lists(any_text, max_size=3),
                                                  channel_required=st.booleans())),
        tools=draw(st.none() | st.dictionaries(st.sampled_from(["browser", "python", "x"]) | any_text,
                                               namespace(), max_size=2)),
    )
    return Message.from_role_and_content(Role.SYSTEM, content)


@st.composite
def developer_message(draw):
    content = DeveloperContent(instructions=draw(st.none() | any_text))
    if draw(st.booleans()):
        content = content.with_tools(draw(namespace("functions")))
    if draw(st.booleans()):
        content = content.with_tools(draw(namespace()))
    return Message.from_role_and_content(Role.DEVELOPER, content)


@st.composite
def any_message(draw):
    """Any text in every header field (the tool's name must exist)."""
    role = draw(st.sampled_from(list(Role)))
    name = draw(any_text) if role is Role.TOOL else draw(st.none() | any_text)
    return Message(author=Author(role=role, name=name),
                   content=[TextContent(text=t) for t in draw(st.lists(any_text, max_size=3))],
                   channel=draw(st.none() | st.sampled_from(["analysis", "commentary", "final"]) | any_text),
                   recipient=draw(st.none() | st.just("all") | any_text),
                   content_type=draw(st.none() | st.sampled_from(["json", C + "json", C]) | any_text
                                     | any_text.map(lambda s: C + s)))


WILDCARD = object()


def expected_structure(message: Message, dialect: str) -> list[tuple[int, object]]:
    """(special token, the text that follows it up to the next special token) for one message."""
    role = message.author.role.value
    name = message.author.name
    to = message.recipient if message.recipient not in (None, "all") else None
    head = name if role == "tool" else role + ("" if name is None else ":" + name)
    out: list[list] = []
    if dialect == "oss-harmony" and message.channel == "commentary":
        out.append([START, head])
        out.append([CHANNEL, "commentary" + ("" if to is None else " to=" + to)])
    else:
        out.append([START, head + ("" if to is None else " to=" + to)])
        if message.channel is not None:
            out.append([CHANNEL, message.channel])
    ct = message.content_type
    if ct is not None:
        if dialect == "oss-harmony" or ct.startswith(C):
            out[-1][1] += " "
            out.append([CONSTRAIN, ct.removeprefix(C)])
        else:
            out[-1][1] += " " + ct
    if all(isinstance(c, TextContent) for c in message.content):
        out.append([MESSAGE, "".join(c.text for c in message.content)])
    else:
        out.append([MESSAGE, WILDCARD])
    out.append([CALL if role == "assistant" and message.recipient is not None else END, ""])
    return [tuple(x) for x in out]


def actual_structure(enc, tokens: list[int]) -> list[tuple[int, str]]:
    assert tokens and enc.is_special_token(tokens[0])
    out: list[list] = []
    for t in tokens:
        if enc.is_special_token(t):
            out.append([t, []])
        else:
            out[-1][1].append(t)
    return [(t, enc.decode_utf8(ids)) for t, ids in out]


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(BASE, max_examples=120)
@given(data=st.data())
def test_special_tokens_only_where_the_structure_puts_them(encs, dialect, data):
    enc = encs[dialect]
    messages = []
    if data.draw(st.booleans()):
        messages.append(data.draw(system_message()))
    if data.draw(st.booleans()):
        messages.append(data.draw(developer_message()))
    messages += data.draw(st.lists(any_message(), max_size=5))
    next_role = data.draw(st.sampled_from(list(Role)))
    tokens = enc.render_conversation_for_completion(
        Conversation.from_messages(messages), next_role, RenderConversationConfig(auto_drop_analysis=False))
    expected = [s for m in messages for s in expected_structure(m, dialect)] + [(START, next_role.value)]
    actual = actual_structure(enc, tokens)
    assert [t for t, _ in actual] == [t for t, _ in expected]
    for (_, want), (_, got) in zip(expected, actual):
        if want is not WILDCARD:
            assert got == want
    # Structured bodies are text; the free-text fields appear in them verbatim.
    bodies = iter(got for (_, want), (_, got) in zip(expected, actual) if want is WILDCARD)
    for m in messages:
        content = m.content[0] if m.content else None
        if isinstance(content, SystemContent):
            body = next(bodies)
            for value in (content.model_identity,):
                assert value is None or value in body
            if content.knowledge_cutoff is not None:
                assert "Knowledge cutoff: " + content.knowledge_cutoff in body
            if content.conversation_start_date is not None:
                assert "Current date: " + content.conversation_start_date in body
        elif isinstance(content, DeveloperContent):
            body = next(bodies)
            assert content.instructions is None or "# Instructions\n\n" + content.instructions in body


@settings(BASE, max_examples=100)
@given(message=any_message())
def test_single_message_render_has_only_structural_specials(encs, message):
    enc = encs["oss-harmony"]
    assert actual_structure(enc, enc.render(message)) == expected_structure(message, "oss-harmony")


# -- 4. malformed data ------------------------------------------------------------------------

ALLOWED = (HarmonyError, ValidationError)  # HarmonyDataError is a HarmonyError


def _valid_message_dicts():
    tool = {"name": "get_weather", "description": "Gets the weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}
    return [
        {"role": "user", "name": None, "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
         "channel": "commentary", "recipient": "functions.get_weather", "content_type": "<|constrain|>json"},
        {"role": "tool", "name": "functions.get_weather", "content": "plain", "recipient": "assistant"},
        {"role": "system", "content": [{"type": "system_content", "model_identity": "m", "reasoning_effort": "High",
                                        "conversation_start_date": "2025-01-01", "knowledge_cutoff": "2024-06",
                                        "channel_config": {"valid_channels": ["analysis", "final"],
                                                           "channel_required": True},
                                        "tools": {"browser": {"name": "browser", "description": "d",
                                                              "tools": [tool]}}}]},
        {"role": "developer", "content": [{"type": "developer_content", "instructions": "be nice",
                                           "tools": {"functions": {"name": "functions", "tools": [tool]}}}]},
    ]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _set(root, path, value, delete=False):
    target = root
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def _named_field(path) -> str:
    return next(str(k) for k in reversed(path) if isinstance(k, str))


@settings(BASE, max_examples=600)
@given(data=st.data())
def test_malformed_messages_raise_named_data_errors(data):
    import copy

    base = data.draw(st.sampled_from(_valid_message_dicts()))
    msg = copy.deepcopy(base)
    path = data.draw(st.sampled_from([p for p in _paths(msg) if p]))
    delete = isinstance(path[-1], str) and data.draw(st.booleans())
    value = None if delete else data.draw(junk)
    assume(not (path[-1] == "type" and value in ("text", "system_content", "developer_content")))
    _set(msg, path, value, delete)
    for attempt in (lambda: Message.from_dict(msg),
                    lambda: Conversation.from_json(json.dumps({"messages": [{"role": "user", "content": "x"}, msg]}))):
        try:
            attempt()
        except ALLOWED as exc:
            assert _named_field(path) in str(exc), (path, value, str(exc))
        # any other exception fails the test


@settings(BASE, max_examples=300)
@given(payload=st.one_of(
    st.text(),
    st.text().map(lambda s: s.encode("utf-8")),
    junk.map(json.dumps),
    junk.map(lambda v: json.dumps({"messages": v})),
    junk.map(lambda v: json.dumps({"messages": [v]})),
    st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2)),
))
def test_from_json_of_anything_raises_only_data_errors(payload):
    try:
        Conversation.from_json(payload)
    except ALLOWED:
        pass


@pytest.mark.parametrize("payload, field", [
    ("{", "line 1 column 2"),
    ("[]", "conversation"),
    ('{"messages": 5}', "conversation.messages"),
    ('{"other": []}', "conversation.messages"),
    ('{"messages": [5]}', "messages[0]"),
    ('{"messages": [{"role": "user", "content": "x"}, {"content": "x"}]}', "messages[1].role"),
    ('{"messages": [{"role": "robot", "content": "x"}]}', "messages[0].role"),
    ('{"messages": [{"role": "user"}]}', "messages[0].content"),
    ('{"messages": [{"role": "user", "content": [{"type": "image"}]}]}', "messages[0].content[0].type"),
    ('{"messages": [{"role": "user", "content": [{"text": "x"}]}]}', "messages[0].content[0].type"),
    ('{"messages": [{"role": "user", "content": [null]}]}', "messages[0].content[0]"),
    ('{"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}', "text"),
    ('{"messages": [{"role": "user", "content": "x", "channel": []}]}', "channel"),
    ('{"messages": [{"role": "user", "content": "x", "channel": NaN}]}', "channel"),
    ('{"messages": [{"role": "system", "content": [{"type": "system_content", "reasoning_effort": "max"}]}]}',
     "reasoning_effort"),
    ('{"messages": [{"role": "system", "content": [{"type": "system_content", "tools": {"a": {"name": "a", '
     '"tools": [{"name": "f"}]}}}]}]}', "tools.a.tools.0.description"),
    ('[' * 100_000 + ']' * 100_000, "nested too deeply"),
    ('{"messages": ' + '[' * 50_000 + ']' * 50_000 + '}', "nested too deeply"),
])
def test_from_json_errors_name_the_place(payload, field):
    with pytest.raises(ALLOWED) as info:
        Conversation.from_json(payload)
    assert field in str(info.value)


def _deep(depth: int, kind: str):
    value: object = "x"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


_DEEP = sys.getrecursionlimit() * 3
@pytest.mark.parametrize("field", [
    "channel", "recipient", "content_type", "name", "content", "content_item", "text", "parameters", "role", "type",
])
@pytest.mark.parametrize("kind", ["list", "dict"])
def test_deeply_nested_values_raise_data_errors(encs, field, kind):
    deep = _deep(_DEEP, kind)
    msg: dict = {"role": "user", "content": [{"type": "text", "text": "x"}]}
    if field in ("channel", "recipient", "content_type", "name", "content", "role"):
        msg[field] = deep
    elif field == "content_item":
        msg["content"] = [deep]
    elif field in ("text", "type"):
        msg["content"] = [{"type": "text", "text": "x", field: deep}]
    else:
        msg = {"role": "developer", "content": [{"type": "developer_content", "tools": {"functions": {
            "name": "functions", "tools": [{"name": "f", "description": "d", "parameters": {"x": deep}}]}}}]}
    try:
        message = Message.from_dict(msg)
    except ALLOWED as exc:
        named = {"content_item": "content[0]", "type": "content[0].type"}.get(field, field)
        assert named in str(exc)
        return
    # Accepted (a free-form schema may nest): rendering refuses it with a HarmonyError.
    assert field == "parameters"
    with pytest.raises(HarmonyError):
        encs["oss-harmony"].render(message)


def test_non_string_keys_in_content_raise_data_errors():
    with pytest.raises(ALLOWED):
        Message.from_dict({"role": "user", "content": [{"type": "text", "text": "x", 5: 1}]})


def test_from_json_of_non_utf8_bytes_raises_data_errors():
    with pytest.raises(ALLOWED):
        Conversation.from_json(b'{"messages": [{"role": "user", "content": "\xff"}]}')
