"""The header interpreter (harmony_grammar.format.header): role, tool author, recipient, channel, content type.

Every expected value was produced by oss-harmony 0.0.11 parsing the same header
(``<|start|>HEADER<|message|>c<|end|>`` with no role, or ``HEADER<|message|>c<|end|>``
after ``<|start|>ROLE``) through ``parse_messages_from_completion_tokens``; the
``keep`` dialect was checked the same way against openai-harmony 0.0.8.
"""

from __future__ import annotations

import pytest

from harmony_grammar import HarmonyError
from harmony_grammar.format.header import ROLES, HeaderError, HeaderRules, ParsedHeader


def H(role, name, recipient, channel, content_type, remaining=None):
    return ParsedHeader(role=role, name=name, recipient=recipient, channel=channel,
                        content_type=content_type, remaining=remaining)


RULES = HeaderRules.load()
KEEP = HeaderRules.load({"channel_marker": "<|channel|>", "constrain_marker": "<|constrain|>",
                         "recipient_prefix": "to=", "extra_channel_markers": "keep"})


# (header text, role given to the parser, what oss-harmony 0.0.11 reads)
READS = [
    ('assistant', None, H('assistant', None, None, None, None)),
    ('user', None, H('user', None, None, None, None)),
    ('system', None, H('system', None, None, None, None)),
    ('developer', None, H('developer', None, None, None, None)),
    ('tool', None, H('tool', 'tool', None, None, None)),
    ('assistant<|channel|>final', None, H('assistant', None, None, 'final', None)),
    ('functions.get_weather to=assistant', None, H('tool', 'functions.get_weather', 'assistant', None, None)),
    ('functions.get_weather to=assistant<|channel|>commentary', None, H('tool', 'functions.get_weather', 'assistant', 'commentary', None)),
    ('functions.get_weather<|channel|>commentary to=assistant', None, H('tool', 'functions.get_weather', 'assistant', 'commentary', None)),
    ('browser.search to=assistant<|channel|>commentary json', None, H('tool', 'browser.search', 'assistant', 'commentary', 'json')),
    ('to=functions.f', None, H('tool', 'to=functions.f', None, None, None)),
    ('to=functions.f<|channel|>commentary', None, H('tool', 'to=functions.f', None, 'commentary', None)),
    ('assistant to=functions.f<|channel|>commentary <|constrain|>json', None, H('assistant', None, 'functions.f', 'commentary', '<|constrain|>json')),
    ('assistant<|channel|>commentary to=functions.f <|constrain|>json', None, H('assistant', None, 'functions.f', 'commentary', '<|constrain|>json')),
    ('assistant<|channel|>commentary to=functions.f<|constrain|>json', None, H('assistant', None, 'functions.f', 'commentary', '<|constrain|>json')),
    ('assistant to=functions.f<|constrain|>json<|channel|>commentary', None, H('assistant', None, 'functions.f', 'commentary', '<|constrain|>json')),
    ('assistant<|channel|>commentary<|constrain|>json', None, H('assistant', None, '<|constrain|>json', 'commentary', None)),
    ('assistant<|channel|>commentary <|constrain|>json', None, H('assistant', None, '<|constrain|>json', 'commentary', None)),
    ('assistant<|channel|>commentary to=functions.f <|constrain|>', None, H('assistant', None, 'functions.f', 'commentary', '<|constrain|>')),
    ('assistant<|constrain|>', None, H('assistant', None, '<|constrain|>', None, None)),
    ('assistant foo', None, H('assistant', None, 'foo', None, None)),
    ('assistant foo json', None, H('assistant', None, 'foo', None, 'json')),
    ('assistant to=foo json', None, H('assistant', None, 'foo', None, 'json')),
    ('assistant<|channel|>analysis<|channel|>final', None, H('assistant', None, None, 'analysis', None)),
    ('assistant<|channel|>analysis to=f<|channel|>final json', None, H('assistant', None, 'f', 'analysis', 'json')),
    ('assistant<|channel|>analysis<|channel|>final<|channel|>commentary', None, H('assistant', None, None, 'analysis', None)),
    ('assistant<|channel|>analysis<|channel|>', None, H('assistant', None, None, 'analysis', None)),
    ('assistant <|channel|>final', None, H('assistant', None, None, 'final', None)),
    ('assistant<|channel|>final\tto=foo', None, H('assistant', None, 'foo', 'final', None)),
    ('\u3000assistant\u3000', None, H('assistant', None, None, None, None)),
    ('assistant\x0cto=foo', None, H('assistant', None, 'foo', None, None)),
    ('assistant<|channel|>final\x1cjson', None, H('assistant', None, None, 'final\x1cjson', None)),
    ('\n assistant \n', None, H('assistant', None, None, None, None)),
    ('user to=assistant', None, H('user', None, 'assistant', None, None)),
    ('', 'assistant', H('assistant', None, None, None, None)),
    ('<|channel|>final', 'assistant', H('assistant', None, None, 'final', None)),
    (' to=functions.f<|channel|>commentary <|constrain|>json', 'assistant', H('assistant', None, 'functions.f', 'commentary', '<|constrain|>json')),
    ('assistant<|channel|>final', 'assistant', H('assistant', None, None, 'final', None)),
    ('assistant<|channel|>final', 'user', H('user', None, 'assistant', 'final', None)),
    ('functions.x', 'tool', H('tool', None, 'functions.x', None, None)),
    (' foo', 'assistant', H('assistant', None, 'foo', None, None)),
    ('<|channel|>final a b', 'assistant', H('assistant', None, 'a', 'final', 'b')),
    ('Assistant', 'assistant', H('assistant', None, 'Assistant', None, None)),
    ('\x1c', 'assistant', H('assistant', None, '\x1c', None, None)),
    ('\xa0', 'assistant', H('assistant', None, None, None, None)),
    ('tool to=assistant', 'tool', H('tool', None, 'assistant', None, None)),
]

# (header text, role given, the reference's error message)
ERRORS = [
    ('functions.get_weather', None, 'Unknown role: functions.get_weather'),
    ('Assistant', None, 'Unknown role: Assistant'),
    ('', None, 'message header did not contain a role'),
    ('   ', None, 'message header did not contain a role'),
    ('<|channel|>final', None, 'message header did not contain a role'),
    ('assistant<|channel|>', None, 'channel marker present but no channel value found in header'),
    ('assistant<|channel|> final', None, 'channel marker present but no channel value found in header'),
    ('assistant<|channel|>x<y', None, 'Unknown role: assistant<y'),
    ('assistant\xa0to=foo', None, 'Unknown role: assistant\xa0to=foo'),
    ('\u3000assistant\u3000to=foo', None, 'Unknown role: assistant\u3000to=foo'),
    ('\x1cassistant', None, 'Unknown role: \x1cassistant'),
    ('assistant\x1c', None, 'Unknown role: assistant\x1c'),
    ('assistant\x0bto=foo', None, 'Unknown role: assistant\x0bto=foo'),
    ('assistant<|channel|>final\xa0json', None, 'Unknown role: assistant\xa0json'),
    ('<|channel|>', 'assistant', 'channel marker present but no channel value found in header'),
]


@pytest.mark.parametrize("text, role, expected", READS)
def test_interpret_matches_reference(text, role, expected):
    assert RULES.interpret(text, role) == expected


@pytest.mark.parametrize("text, role, message", ERRORS)
def test_interpret_errors_match_reference(text, role, message):
    with pytest.raises(HeaderError) as info:
        RULES.interpret(text, role)
    assert str(info.value) == message
    assert isinstance(info.value, HarmonyError)


# -- role detection --------------------------------------------------------------------


def test_roles():
    assert ROLES == ("user", "assistant", "system", "developer", "tool")


@pytest.mark.parametrize("role", ["user", "assistant", "system", "developer"])
def test_each_role_word_is_a_role(role):
    assert RULES.interpret(role, None) == H(role, None, None, None, None)


def test_bare_tool_word_names_the_tool_after_itself():
    # The reference gives the author the name "tool" here.
    assert RULES.interpret("tool", None) == H("tool", "tool", None, None, None)


def test_tool_author_with_recipient_and_channel():
    assert RULES.interpret("functions.get_weather to=assistant<|channel|>commentary", None) == H(
        "tool", "functions.get_weather", "assistant", "commentary", None)


def test_single_unknown_word_is_not_a_tool():
    with pytest.raises(HeaderError) as info:
        RULES.interpret("functions.get_weather", None)
    assert str(info.value) == "Unknown role: functions.get_weather"


def test_roles_are_case_sensitive():
    with pytest.raises(HeaderError) as info:
        RULES.interpret("Assistant", None)
    assert str(info.value) == "Unknown role: Assistant"


def test_given_role_never_reads_a_tool_name():
    # With the role given, a leading word other than the role is not an author name.
    assert RULES.interpret("functions.x", "tool") == H("tool", None, "functions.x", None, None)
    assert RULES.interpret("functions.x to=assistant", "tool").remaining == "functions.x"


# -- recipient before or after the channel ----------------------------------------------


def test_recipient_before_and_after_channel_read_the_same():
    before = RULES.interpret("assistant to=functions.f<|channel|>commentary <|constrain|>json", None)
    after = RULES.interpret("assistant<|channel|>commentary to=functions.f <|constrain|>json", None)
    assert before == after == H("assistant", None, "functions.f", "commentary", "<|constrain|>json")


def test_bare_trailing_word_is_the_recipient():
    assert RULES.interpret("assistant foo", None) == H("assistant", None, "foo", None, None)
    assert RULES.interpret("Assistant", "assistant") == H("assistant", None, "Assistant", None, None)


def test_two_words_are_recipient_and_content_type():
    assert RULES.interpret("assistant foo json", None) == H("assistant", None, "foo", None, "json")
    assert RULES.interpret("<|channel|>final a b", "assistant") == H("assistant", None, "a", "final", "b")


def test_a_lone_constrained_type_is_read_as_the_recipient():
    # Reference quirk: with no second word, the last word is always the recipient.
    assert RULES.interpret("assistant<|channel|>commentary <|constrain|>json", None) == H(
        "assistant", None, "<|constrain|>json", "commentary", None)


# -- <|constrain|> next to other words ----------------------------------------------------


def test_constrain_adjacent_to_recipient_gets_a_space():
    assert RULES.interpret("assistant<|channel|>commentary to=functions.f<|constrain|>json", None) == H(
        "assistant", None, "functions.f", "commentary", "<|constrain|>json")


def test_constrain_adjacent_to_channel_gets_a_space():
    # The channel value stops at '<'; the constrain marker then stands alone.
    assert RULES.interpret("assistant<|channel|>commentary<|constrain|>json", None) == H(
        "assistant", None, "<|constrain|>json", "commentary", None)


def test_constrain_before_channel():
    assert RULES.interpret("assistant to=functions.f<|constrain|>json<|channel|>commentary", None) == H(
        "assistant", None, "functions.f", "commentary", "<|constrain|>json")


def test_bare_constrain_marker():
    assert RULES.interpret("assistant<|channel|>commentary to=functions.f <|constrain|>", None) == H(
        "assistant", None, "functions.f", "commentary", "<|constrain|>")


# -- the channel -------------------------------------------------------------------------


def test_channel_value_ends_at_whitespace():
    assert RULES.interpret("assistant<|channel|>final\tto=foo", None) == H(
        "assistant", None, "foo", "final", None)


def test_channel_value_ends_at_angle_bracket():
    with pytest.raises(HeaderError) as info:
        RULES.interpret("assistant<|channel|>x<y", None)
    assert str(info.value) == "Unknown role: assistant<y"


@pytest.mark.parametrize("text", ["assistant<|channel|>", "assistant<|channel|> final"])
def test_empty_channel_is_an_error(text):
    with pytest.raises(HeaderError) as info:
        RULES.interpret(text, None)
    assert str(info.value) == "channel marker present but no channel value found in header"


def test_empty_channel_is_an_error_with_given_role():
    with pytest.raises(HeaderError) as info:
        RULES.interpret("<|channel|>", "assistant")
    assert str(info.value) == "channel marker present but no channel value found in header"


def test_extra_channel_markers_are_dropped_by_default():
    assert RULES.drop_extra_channels is True
    assert RULES.interpret("assistant<|channel|>analysis<|channel|>final", None) == H(
        "assistant", None, None, "analysis", None)
    assert RULES.interpret("assistant<|channel|>analysis<|channel|>final<|channel|>commentary", None) == H(
        "assistant", None, None, "analysis", None)
    # An extra marker without a value is dropped too (only the first must have one).
    assert RULES.interpret("assistant<|channel|>analysis<|channel|>", None) == H(
        "assistant", None, None, "analysis", None)
    assert RULES.interpret("assistant<|channel|>analysis to=f<|channel|>final json", None) == H(
        "assistant", None, "f", "analysis", "json")


# openai-harmony 0.0.8 keeps extra <|channel|> markers in the header text.
KEEP_READS = [
    ("assistant<|channel|>analysis to=f<|channel|>final json", None,
     H("assistant", None, "f<|channel|>final", "analysis", "json")),
    ("assistant<|channel|>final", None, H("assistant", None, None, "final", None)),
    ("assistant to=functions.f<|channel|>commentary <|constrain|>json", None,
     H("assistant", None, "functions.f", "commentary", "<|constrain|>json")),
]
KEEP_ERRORS = [
    ("assistant<|channel|>analysis<|channel|>final", None, "Unknown role: assistant<|channel|>final"),
    ("assistant<|channel|>analysis<|channel|>final<|channel|>commentary", None,
     "Unknown role: assistant<|channel|>final<|channel|>commentary"),
    ("assistant<|channel|>analysis<|channel|>", None, "Unknown role: assistant<|channel|>"),
]


@pytest.mark.parametrize("text, role, expected", KEEP_READS)
def test_keep_mode_matches_openai_harmony_0_0_8(text, role, expected):
    assert KEEP.drop_extra_channels is False
    assert KEEP.interpret(text, role) == expected


@pytest.mark.parametrize("text, role, message", KEEP_ERRORS)
def test_keep_mode_errors_match_openai_harmony_0_0_8(text, role, message):
    with pytest.raises(HeaderError) as info:
        KEEP.interpret(text, role)
    assert str(info.value) == message


@pytest.mark.parametrize("text, role, expected", [r for r in READS if r[0].count("<|channel|>") <= 1])
def test_keep_mode_agrees_when_there_is_at_most_one_channel_marker(text, role, expected):
    assert KEEP.interpret(text, role) == expected


def test_load_rejects_unknown_mode():
    with pytest.raises(HarmonyError) as info:
        HeaderRules.load({"channel_marker": "<|channel|>", "constrain_marker": "<|constrain|>",
                          "recipient_prefix": "to=", "extra_channel_markers": "bogus"})
    assert str(info.value) == ("grammar/header.json is malformed: "
                               "extra_channel_markers must be 'drop' or 'keep', not 'bogus'")


def test_load_rejects_missing_key():
    with pytest.raises(HarmonyError) as info:
        HeaderRules.load({"channel_marker": "<|channel|>"})
    assert str(info.value) == "grammar/header.json is malformed: 'extra_channel_markers'"


def test_default_rules():
    assert RULES == HeaderRules("<|channel|>", "<|constrain|>", "to=", True)


# -- missing role, leftover words -------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "<|channel|>final"])
def test_no_role(text):
    with pytest.raises(HeaderError) as info:
        RULES.interpret(text, None)
    assert str(info.value) == "message header did not contain a role"


def test_empty_header_with_given_role():
    assert RULES.interpret("", "assistant") == H("assistant", None, None, None, None)


@pytest.mark.parametrize("text, role, remaining", [
    ("assistant json to=foo", None, "json"),
    ("assistant a b c", None, "a"),
    ("assistant a to=b c", None, "a"),
    ("assistant a b c d", None, "a b"),
    ("assistant a\tb  c d", None, "a b"),
    ("functions.x to=assistant", "tool", "functions.x"),
])
def test_leftover_words_are_returned_as_remaining(text, role, remaining):
    # The interpreter reports them; the parser turns them into the reference's error,
    # e.g. 'unexpected tokens remaining in message header: Some("a b")' for "assistant a b c d".
    assert RULES.interpret(text, role).remaining == remaining


def test_leftover_words_are_a_parse_error(enc):
    tokens = enc.encode("<|start|>assistant a\tb  c d<|message|>x<|end|>", allowed_special="all")
    with pytest.raises(HeaderError) as info:
        enc.parser.read_header(tokens, 1, tokens.index(200008), None)
    assert str(info.value) == ('unexpected tokens remaining in message header: Some("a b") '
                               "(message header at tokens 1..7: 'assistant a\\tb  c d')")


def test_read_header_names_the_span(enc):
    tokens = enc.encode("<|start|>robot<|message|>x<|end|>", allowed_special="all")
    with pytest.raises(HeaderError) as info:
        enc.parser.read_header(tokens, 1, 2, None)
    assert str(info.value) == "Unknown role: robot (message header at tokens 1..2: 'robot')"


# -- whitespace: Rust's rules, not Python's ------------------------------------------------------


def test_unicode_whitespace_is_trimmed():
    assert RULES.interpret("\u3000assistant\u3000", None) == H("assistant", None, None, None, None)
    assert RULES.interpret("\n assistant \n", None) == H("assistant", None, None, None, None)
    assert RULES.interpret("\xa0", "assistant") == H("assistant", None, None, None, None)


@pytest.mark.parametrize("text, message", [
    ("assistant\xa0to=foo", "Unknown role: assistant\xa0to=foo"),
    ("\u3000assistant\u3000to=foo", "Unknown role: assistant\u3000to=foo"),
    ("assistant<|channel|>final\xa0json", "Unknown role: assistant\xa0json"),
    ("assistant\x0bto=foo", "Unknown role: assistant\x0bto=foo"),
])
def test_words_split_on_ascii_whitespace_only(text, message):
    # NBSP, U+3000 and vertical tab end a channel value and are trimmed at the ends,
    # but do not separate words (Rust's split_ascii_whitespace).
    with pytest.raises(HeaderError) as info:
        RULES.interpret(text, None)
    assert str(info.value) == message


def test_form_feed_separates_words():
    assert RULES.interpret("assistant\x0cto=foo", None) == H("assistant", None, "foo", None, None)


def test_u001c_is_not_whitespace():
    # Python's str.isspace() and str.strip() treat U+001C as whitespace; Rust does not.
    assert "\x1c".isspace()
    for text in ("\x1cassistant", "assistant\x1c"):
        with pytest.raises(HeaderError) as info:
            RULES.interpret(text, None)
        assert str(info.value) == f"Unknown role: {text}"
    assert RULES.interpret("assistant<|channel|>final\x1cjson", None) == H(
        "assistant", None, None, "final\x1cjson", None)
    assert RULES.interpret("\x1c", "assistant") == H("assistant", None, "\x1c", None, None)


# -- fields=False: a tolerant header cut off by a stop token ------------------------------------
# Checked against the reference with strict=False: the message it makes has the
# channel read and the remaining words as its content.


@pytest.mark.parametrize("text, role, expected", [
    ("<|channel|>analysis to=foo json", "assistant", H("assistant", None, None, "analysis", None, "to=foo json")),
    (" to=foo json", "assistant", H("assistant", None, None, None, None, "to=foo json")),
    ("assistant<|channel|>final hello world", "assistant", H("assistant", None, None, "final", None, "hello world")),
    ("<|channel|>final", "assistant", H("assistant", None, None, "final", None)),
    ("assistant", "assistant", H("assistant", None, None, None, None)),
    ("functions.x to=assistant<|channel|>commentary", "tool", H("tool", None, None, "commentary", None, "functions.x to=assistant")),
    ("user hi", "assistant", H("assistant", None, None, None, None, "user hi")),
    ("x\xa0y z", "user", H("user", None, None, None, None, "x\xa0y z")),
    ("a\tb  c", "assistant", H("assistant", None, None, None, None, "a b c")),
    ("\u3000a b\u3000", "user", H("user", None, None, None, None, "a b")),
    ("to=x<|constrain|>json", "assistant", H("assistant", None, None, None, None, "to=x <|constrain|>json")),
    ("<|channel|>a<|channel|>b c", "assistant", H("assistant", None, None, "a", None, "c")),
])
def test_tolerant_fields_false(text, role, expected):
    assert RULES.interpret(text, role, fields=False) == expected


def test_tolerant_fields_false_still_checks_the_channel():
    with pytest.raises(HeaderError) as info:
        RULES.interpret("<|channel|>", "assistant", fields=False)
    assert str(info.value) == "channel marker present but no channel value found in header"


# -- state_json: the reference's StreamableParser.state_data header ----------------------------------


def test_state_json_of_assistant_header():
    parsed = RULES.interpret(" to=functions.get_weather<|channel|>commentary <|constrain|>json", "assistant")
    assert parsed.state_json() == {"author": {"role": "assistant"}, "recipient": "functions.get_weather",
                                   "channel": "commentary", "content_type": "<|constrain|>json"}


def test_state_json_of_tool_header_has_the_name():
    parsed = RULES.interpret("functions.get_weather to=assistant<|channel|>commentary", None)
    assert parsed.state_json() == {"author": {"role": "tool", "name": "functions.get_weather"},
                                   "recipient": "assistant", "channel": "commentary", "content_type": None}


# -- the same tables, against the live references (skipped when unavailable) -----------------------


def _parse_cases(rows):
    cases = []
    for text, role, _ in rows:
        if role is None:
            tokens = f"<|start|>{text}<|message|>c<|end|>"
        else:
            tokens = f"{text}<|message|>c<|end|>"
        cases.append({"op": "parse", "tokens": tokens, "role": role})
    return cases


def _expected(rows):
    out = []
    for _, _, want in rows:
        if isinstance(want, ParsedHeader):
            msg = {"role": want.role, "name": want.name, "content": [{"type": "text", "text": "c"}]}
            for key in ("channel", "recipient", "content_type"):
                if getattr(want, key) is not None:
                    msg[key] = getattr(want, key)
            out.append({"ok": [msg]})
        else:
            out.append({"error": "HarmonyError", "message": want})
    return out


def _run(oracle, enc, rows):
    cases = _parse_cases(rows)
    for case in cases:
        case["tokens"] = enc.encode(case["tokens"], allowed_special="all")
    return oracle(cases)


def test_tables_agree_with_oss_harmony(oss_oracle, enc):
    rows = READS + ERRORS
    assert _run(oss_oracle, enc, rows) == _expected(rows)


def test_keep_tables_agree_with_openai_harmony(openai_oracle, enc):
    rows = KEEP_READS + KEEP_ERRORS
    assert _run(openai_oracle, enc, rows) == _expected(rows)
