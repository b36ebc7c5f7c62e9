"""Batch parsing (HarmonyEncoding.parse_messages_from_completion_tokens): every message shape, errors, round trips.

Every expected message list is oss-harmony 0.0.11's output for the same token
ids (built with ``enc.encode(text, allowed_special="all")``). Where the
reference raises, we raise ``HarmonyError`` at the same input; our messages start
with the reference's exact wording, noted beside each case, then name the token
index or the header span in parentheses. Two deliberate
differences: ids below 0 or above 2**32-1 raise ``HarmonyError`` (the reference
raises ``OverflowError``) and non-integer ids raise ``HarmonyError`` (the
reference raises ``TypeError``). Bools are integers, as in the reference.
"""

from __future__ import annotations

import pytest

from harmony_grammar import Conversation, HarmonyError, Message, RenderConversationConfig, Role
from harmony_grammar.format.header import HeaderError


def parse(enc, x, role=None, strict=True):
    tokens = enc.encode(x, allowed_special="all") if isinstance(x, str) else x
    return [m.to_dict() for m in enc.parse_messages_from_completion_tokens(
        tokens, None if role is None else Role(role), strict=strict)]


# (name, text or token ids, role, strict, the reference's messages)
PARSES = [
    ('user', '<|start|>user<|message|>What is 2 + 2?<|end|>', None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'What is 2 + 2?'}]}]),
    ('conversation', '<|start|>system<|message|>sys<|end|><|start|>developer<|message|>dev<|end|><|start|>user<|message|>q<|end|><|start|>assistant<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>final<|message|>answer<|return|>', None, True,
     [{'role': 'system', 'name': None, 'content': [{'type': 'text', 'text': 'sys'}]}, {'role': 'developer', 'name': None, 'content': [{'type': 'text', 'text': 'dev'}]}, {'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'q'}]}, {'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'think'}], 'channel': 'analysis'}, {'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'answer'}], 'channel': 'final'}]),
    ('tool_call', '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location": "SF"}<|call|>', None, True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '{"location": "SF"}'}], 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': '<|constrain|>json'}]),
    ('tool_call_recipient_first', '<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{}<|call|>', None, True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '{}'}], 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': '<|constrain|>json'}]),
    ('tool_response', '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"temp": 20}<|end|>', None, True,
     [{'role': 'tool', 'name': 'functions.get_weather', 'content': [{'type': 'text', 'text': '{"temp": 20}'}], 'channel': 'commentary', 'recipient': 'assistant'}]),
    ('truncated_content', '<|start|>user<|message|>a<|end|><|start|>assistant<|channel|>final<|message|>Hel', None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'a'}]}, {'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'Hel'}], 'channel': 'final'}]),
    ('truncated_after_message', '<|start|>assistant<|message|>', None, True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': ''}]}]),
    ('empty', '', None, True,
     []),
    ('empty_tolerant', '', None, False,
     []),
    ('specials_in_content', '<|start|>user<|message|>a<|start|>b<|message|>c<|channel|>d<|constrain|>e<|endoftext|>f<|reserved_200013|>g<|end|>', None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'a<|start|>b<|message|>c<|channel|>d<|constrain|>e<|endoftext|>f<|reserved_200013|>g'}]}]),
    ('empty_content', '<|start|>user<|message|><|end|>', None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': ''}]}]),
    ('stop_in_header_tolerant', '<|start|>assistant<|end|><|start|>user<|message|>hi<|end|>', None, False,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'hi'}]}]),
    ('role_assistant', '<|channel|>final<|message|>Hi!<|return|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'Hi!'}], 'channel': 'final'}]),
    ('role_assistant_repeated', 'assistant<|channel|>final<|message|>Hi!<|return|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'Hi!'}], 'channel': 'final'}]),
    ('role_assistant_then_more', '<|channel|>analysis<|message|>t<|end|><|start|>assistant<|channel|>final<|message|>f<|end|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 't'}], 'channel': 'analysis'}, {'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'f'}], 'channel': 'final'}]),
    ('role_assistant_call', ' to=functions.f<|channel|>commentary <|constrain|>json<|message|>{}<|call|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '{}'}], 'channel': 'commentary', 'recipient': 'functions.f', 'content_type': '<|constrain|>json'}]),
    ('role_tool', ' to=assistant<|channel|>commentary<|message|>{}<|end|>', 'tool', True,
     [{'role': 'tool', 'name': None, 'content': [{'type': 'text', 'text': '{}'}], 'channel': 'commentary', 'recipient': 'assistant'}]),
    ('role_user_truncated', '<|message|>partial', 'user', True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'partial'}]}]),
    ('role_empty_header', '<|message|>x<|end|>', 'system', True,
     [{'role': 'system', 'name': None, 'content': [{'type': 'text', 'text': 'x'}]}]),
    ('role_start_in_header', '<|start|>assistant<|message|>x<|end|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'x'}], 'recipient': '<|start|>assistant'}]),
    ('role_stop_in_header_strict', '<|channel|>analysis to=foo json<|end|><|start|>user<|message|>hi<|end|>', 'assistant', True,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'hi'}], 'channel': 'analysis', 'recipient': 'foo', 'content_type': 'json<|end|><|start|>user'}]),
    ('role_stop_in_header_tolerant', '<|channel|>analysis to=foo json<|end|><|start|>user<|message|>hi<|end|>', 'assistant', False,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'to=foo json'}], 'channel': 'analysis'}, {'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'hi'}]}]),
    ('role_tolerant_second_broken', '<|channel|>final<|message|>a<|end|><|start|>assistant to=x<|call|><|start|>user<|message|>b<|end|>', 'assistant', False,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'a'}], 'channel': 'final'}, {'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'b'}]}]),
    ('role_tolerant_empty_broken', '<|end|><|start|>user<|message|>b<|end|>', 'assistant', False,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'b'}]}]),
    ('role_tolerant_broken_at_end', 'hello world<|return|>', 'developer', False,
     [{'role': 'developer', 'name': None, 'content': [{'type': 'text', 'text': 'hello world'}]}]),
    ('role_tolerant_broken_only_role_word', 'assistant<|end|>', 'assistant', False,
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': ''}]}]),
    ('tolerant_wellformed', '<|start|>user<|message|>q<|end|><|start|>assistant<|channel|>final<|message|>a<|return|>', None, False,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'q'}]}, {'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'a'}], 'channel': 'final'}]),
    ('tolerant_header_error', '<|start|>assistant<|channel|><|end|><|start|>user<|message|>hi<|end|>', None, False,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'hi'}]}]),
    ('content_invalid_utf8', [200006, 1428, 200008, 187, 127, 200007], None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': '��'}]}]),
    ('content_split_char', [200006, 1428, 200008, 172, 253, 247, 224, 200007], None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': '🙂'}]}]),
    ('two_truncated', '<|start|>user<|message|>x<|start|>user<|message|>y', None, True,
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'x<|start|>user<|message|>y'}]}]),
]


@pytest.mark.parametrize("name, x, role, strict, expected", PARSES, ids=[p[0] for p in PARSES])
def test_parse_matches_reference(enc, name, x, role, strict, expected):
    assert parse(enc, x, role, strict) == expected


# (name, text or token ids, role, strict, our message, the reference's message)
ERRORS = [
    ('truncated_header', '<|start|>assistant<|channel|>fin', None, True,
     'Unexpected EOS while waiting for message header to complete (token 4: expected <|message|>, found the end of the input)',
     'Unexpected EOS while waiting for message header to complete'),
    ('truncated_after_start', '<|start|>', None, True,
     'Unexpected EOS while waiting for message header to complete (token 1: expected <|message|>, found the end of the input)',
     'Unexpected EOS while waiting for message header to complete'),
    ('stop_in_header_strict', '<|start|>assistant<|end|><|start|>user<|message|>hi<|end|>', None, True,
     "Unknown role: assistant<|end|><|start|>user (message header at tokens 1..5: 'assistant<|end|><|start|>user')",
     'Unknown role: assistant<|end|><|start|>user'),
    ('text_before_start', 'hi<|start|>user<|message|>x<|end|>', None, True,
     'Unexpected token 3686 while expecting start token 200006 (token 0: expected <|start|>, found text)',
     'Unexpected token 3686 while expecting start token 200006'),
    ('text_between', '<|start|>user<|message|>x<|end|>hi', None, True,
     'Unexpected token 3686 while expecting start token 200006 (token 5: expected <|start|>, found text)',
     'Unexpected token 3686 while expecting start token 200006'),
    ('message_first', '<|message|>x<|end|>', None, True,
     'Unexpected token 200008 while expecting start token 200006 (token 0: expected <|start|>, found <|message|>)',
     'Unexpected token 200008 while expecting start token 200006'),
    ('role_empty_input', '', 'assistant', True,
     'Unexpected EOS while waiting for message header to complete (token 0: expected <|message|>, found the end of the input)',
     'Unexpected EOS while waiting for message header to complete'),
    ('role_tolerant_eos_in_header', '<|channel|>final', 'assistant', False,
     'Unexpected EOS while waiting for message header to complete (token 2: expected <|message|>, found the end of the input)',
     'Unexpected EOS while waiting for message header to complete'),
    ('role_tolerant_header_error', '<|channel|><|end|><|start|>user<|message|>hi<|end|>', 'assistant', False,
     "channel marker present but no channel value found in header (message header at tokens 0..1: '<|channel|>')",
     'channel marker present but no channel value found in header'),
    ('header_unknown_role', '<|start|>robot<|message|>x<|end|>', None, True,
     "Unknown role: robot (message header at tokens 1..2: 'robot')",
     'Unknown role: robot'),
    ('header_no_role', '<|start|><|channel|>final<|message|>x<|end|>', None, True,
     "message header did not contain a role (message header at tokens 1..3: '<|channel|>final')",
     'message header did not contain a role'),
    ('header_remaining', '<|start|>assistant to=a b c<|message|>x<|end|>', None, True,
     'unexpected tokens remaining in message header: Some("to=a") (message header at tokens 1..6: \'assistant to=a b c\')',
     'unexpected tokens remaining in message header: Some("to=a")'),
    ('header_empty_channel', '<|start|>assistant<|channel|><|message|>x<|end|>', None, True,
     "channel marker present but no channel value found in header (message header at tokens 1..3: 'assistant<|channel|>')",
     'channel marker present but no channel value found in header'),
    ('header_invalid_utf8', [200006, 173781, 187, 200008, 87, 200007], None, True,
     'could not decode header (tokens 1..3: the message header is not valid UTF-8; bad byte at offset 9)',
     'could not decode header'),
]


@pytest.mark.parametrize("name, x, role, strict, message, ref_message", ERRORS, ids=[e[0] for e in ERRORS])
def test_parse_errors(enc, name, x, role, strict, message, ref_message):
    with pytest.raises(HarmonyError) as info:
        parse(enc, x, role, strict)
    assert str(info.value) == message
    assert message.startswith(ref_message)  # the reference's exact text first


def test_header_errors_are_header_errors(enc):
    with pytest.raises(HeaderError):
        parse(enc, "<|start|>robot<|message|>x<|end|>")


def test_parse_errors_match_live_reference(oss_oracle, enc):
    cases = [{"op": "parse", "tokens": enc.encode(x, allowed_special="all") if isinstance(x, str) else x,
              "role": role, "strict": strict} for _, x, role, strict, _, _ in ERRORS]
    cases += [{"op": "parse", "tokens": enc.encode(x, allowed_special="all") if isinstance(x, str) else x,
               "role": role, "strict": strict} for _, x, role, strict, _ in PARSES]
    expected = [{"error": "HarmonyError", "message": ref} for *_, ref in ERRORS]
    expected += [{"ok": messages} for *_, messages in PARSES]
    assert oss_oracle(cases) == expected


# -- role given vs not ---------------------------------------------------------------------------


def test_role_accepts_enum_or_string(enc):
    tokens = enc.encode("<|channel|>final<|message|>Hi!<|return|>", allowed_special="all")
    by_enum = enc.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT)
    by_name = enc.parse_messages_from_completion_tokens(tokens, "assistant")
    assert [m.to_dict() for m in by_enum] == [m.to_dict() for m in by_name] == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi!"}], "channel": "final"}]


def test_same_message_with_and_without_role(enc):
    with_start = parse(enc, "<|start|>assistant<|channel|>final<|message|>Hi!<|return|>")
    after_start = parse(enc, "<|channel|>final<|message|>Hi!<|return|>", "assistant")
    assert with_start == after_start == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi!"}], "channel": "final"}]


def test_given_role_applies_to_the_first_header_only(enc):
    # The second message reads its own role; "user" is not overridden by the given role.
    assert parse(enc, "<|message|>a<|end|><|start|>user<|message|>b<|end|>", "system") == [
        {"role": "system", "name": None, "content": [{"type": "text", "text": "a"}]},
        {"role": "user", "name": None, "content": [{"type": "text", "text": "b"}]}]


# -- token ids out of range, and not ids at all --------------------------------------------------

HEAD = [200006, 173781, 200005, 17196, 200008]  # <|start|>assistant<|channel|>final<|message|>


@pytest.mark.parametrize("bad, message", [
    (-1, "token 5: id -1 is out of range (token ids are 0..4294967295)"),
    (2**32, "token 5: id 4294967296 is out of range (token ids are 0..4294967295)"),
    (2**64, "token 5: id 18446744073709551616 is out of range (token ids are 0..4294967295)"),
])
def test_ids_outside_u32_are_harmony_errors(enc, bad, message):
    # The reference raises OverflowError ("out of range integral type conversion attempted").
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(HEAD + [bad, 200007])
    assert str(info.value) == message


@pytest.mark.parametrize("bad, message", [
    (1.0, "token 5: expected an integer token id, found float 1.0"),
    ("1", "token 5: expected an integer token id, found str '1'"),
    (None, "token 5: expected an integer token id, found NoneType None"),
])
def test_non_integer_ids_are_harmony_errors(enc, bad, message):
    # The reference raises TypeError ("'float' object cannot be interpreted as an integer").
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(HEAD + [bad, 200007])
    assert str(info.value) == message


def test_bool_ids_are_integers(enc):
    # As in the reference, True is token 1 ('"').
    assert parse(enc, HEAD + [True, 200007]) == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": '"'}], "channel": "final"}]


def test_a_string_is_not_a_token_list(enc):
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens("abc")
    assert str(info.value) == "token 0: expected an integer token id, found str 'a'"


def test_not_iterable(enc):
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(None)
    assert str(info.value) == "tokens: expected a sequence of token ids, found NoneType"


def test_int_like_ids_are_accepted(enc):
    class Id:
        def __init__(self, v):
            self.v = v

        def __index__(self):
            return self.v

    tokens = [Id(t) for t in HEAD + [12194, 200007]]
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(tokens)] == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi"}], "channel": "final"}]


def test_tuple_input(enc):
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(tuple(HEAD + [12194, 200007]))] == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi"}], "channel": "final"}]


@pytest.mark.parametrize("oov", [201089, 250000, 2**31 - 1, 2**31, 2**32 - 1])
def test_ids_past_the_vocabulary_in_content_become_replacement(enc, oov):
    assert parse(enc, HEAD + [12194, oov, 200007]) == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi\ufffd"}], "channel": "final"}]


def test_last_reserved_id_is_a_special_token_in_content(enc):
    assert parse(enc, HEAD + [12194, 201088, 200007]) == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi<|reserved_201088|>"}],
         "channel": "final"}]


@pytest.mark.parametrize("tokens, message", [
    # reference: "could not decode header"
    ([200006, 173781, 201089, 200008, 12194, 200007],
     "could not decode header (token 2: id 201089 in a message header is not in the vocabulary, which has ids 0..201088)"),
    ([200006, 250000, 200008, 12194, 200007],
     "could not decode header (token 1: id 250000 in a message header is not in the vocabulary, which has ids 0..201088)"),
    ([200006, 173781, 2**32 - 1, 200008, 12194, 200007],
     "could not decode header (token 2: id 4294967295 in a message header is not in the vocabulary, "
     "which has ids 0..201088)"),
    # reference: "Unexpected token 201089 while expecting start token 200006"
    (HEAD + [12194, 200007, 201089],
     "Unexpected token 201089 while expecting start token 200006 "
     "(token 7: expected <|start|>, found an id outside the vocabulary)"),
    ([201089] + HEAD + [12194, 200007],
     "Unexpected token 201089 while expecting start token 200006 "
     "(token 0: expected <|start|>, found an id outside the vocabulary)"),
    # reference: "Unexpected token 200013 while expecting start token 200006"
    (HEAD + [12194, 200007, 200013],
     "Unexpected token 200013 while expecting start token 200006 (token 7: expected <|start|>, found <|reserved_200013|>)"),
])
def test_ids_past_the_vocabulary_outside_content_are_errors(enc, tokens, message):
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(tokens)
    assert str(info.value) == message


def test_reserved_token_in_header_is_header_text(enc):
    # reference: "Unknown role: assistant<|reserved_200013|>"
    with pytest.raises(HeaderError) as info:
        enc.parse_messages_from_completion_tokens([200006, 173781, 200013, 200008, 12194, 200007])
    assert str(info.value) == ("Unknown role: assistant<|reserved_200013|> "
                               "(message header at tokens 1..3: 'assistant<|reserved_200013|>')")


# -- the first error in token order is the one reported ---------------------------------------------


def test_earliest_error_is_reported(enc):
    # <|start|>Assistant<|message|>x<|end|>junk: the reference says "Unknown role: Assistant".
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens([200006, 91655, 200008, 87, 200007, 181960])
    assert "Unknown role: Assistant" in str(info.value)


def test_earliest_error_is_reported_before_truncated_header(enc):
    # <|start|>Assistant<|message|>x<|end|><|start|>user: the reference says "Unknown role: Assistant".
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens([200006, 91655, 200008, 87, 200007, 200006, 1428])
    assert "Unknown role: Assistant" in str(info.value)


# -- render, then parse back ------------------------------------------------------------------------
# Each message alone is rendered with render_conversation and parsed back with role=None.
# What survives: role, channel, recipient (except "all"), content type as rendered
# ("json" comes back "<|constrain|>json"), text (several parts joined). What does not:
# an author name on a non-tool role (it renders "user:alice", which does not parse), a
# tool message without a recipient (its name alone reads as an unknown role), a content
# type without a recipient (it comes back as the recipient).

# (message, the reference's rendering, the reference's parse, or ("error", our message))
ROUND_TRIPS = [
    ({'role': 'user', 'content': [{'type': 'text', 'text': 'What is 2 + 2?'}]},
     [200006, 1428, 200008, 4827, 382, 220, 17, 659, 220, 17, 30, 200007],
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'What is 2 + 2?'}]}]),
    ({'role': 'user', 'name': 'alice', 'content': [{'type': 'text', 'text': 'Hi'}]},
     [200006, 1428, 25, 148206, 200008, 12194, 200007],
     ('error', "Unknown role: user:alice (message header at tokens 1..4: 'user:alice')")),
    ({'role': 'assistant', 'content': [{'type': 'text', 'text': 'plain'}]},
     [200006, 173781, 200008, 26330, 200007],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'plain'}]}]),
    ({'role': 'assistant', 'channel': 'analysis', 'content': [{'type': 'text', 'text': 'thinking'}]},
     [200006, 173781, 200005, 35644, 200008, 149404, 200007],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'thinking'}], 'channel': 'analysis'}]),
    ({'role': 'assistant', 'channel': 'final', 'content': [{'type': 'text', 'text': '4'}]},
     [200006, 173781, 200005, 17196, 200008, 19, 200007],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '4'}], 'channel': 'final'}]),
    ({'role': 'assistant', 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': '<|constrain|>json', 'content': [{'type': 'text', 'text': '{"location": "SF"}'}]},
     [200006, 173781, 200005, 12606, 815, 316, 28, 44580, 775, 170154, 220, 200003, 4108, 200008, 10848, 7693, 1243, 392, 46661, 18583, 200012],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '{"location": "SF"}'}], 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': '<|constrain|>json'}]),
    ({'role': 'assistant', 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': 'json', 'content': [{'type': 'text', 'text': '{}'}]},
     [200006, 173781, 200005, 12606, 815, 316, 28, 44580, 775, 170154, 220, 200003, 4108, 200008, 12083, 200012],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': '{}'}], 'channel': 'commentary', 'recipient': 'functions.get_weather', 'content_type': '<|constrain|>json'}]),
    ({'role': 'assistant', 'channel': 'analysis', 'recipient': 'python', 'content_type': 'code', 'content': [{'type': 'text', 'text': 'print(1)'}]},
     [200006, 173781, 316, 28, 29010, 200005, 35644, 220, 200003, 3056, 200008, 1598, 7, 16, 8, 200012],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'print(1)'}], 'channel': 'analysis', 'recipient': 'python', 'content_type': '<|constrain|>code'}]),
    ({'role': 'assistant', 'recipient': 'browser.search', 'content': [{'type': 'text', 'text': 'q'}]},
     [200006, 173781, 316, 28, 46071, 16718, 200008, 80, 200012],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'q'}], 'recipient': 'browser.search'}]),
    ({'role': 'assistant', 'channel': 'final', 'recipient': 'all', 'content': [{'type': 'text', 'text': 'broadcast'}]},
     [200006, 173781, 200005, 17196, 200008, 115880, 200012],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'broadcast'}], 'channel': 'final'}]),
    ({'role': 'tool', 'name': 'functions.get_weather', 'recipient': 'assistant', 'channel': 'commentary', 'content': [{'type': 'text', 'text': '{"temp": 20}'}]},
     [200006, 44580, 775, 170154, 200005, 12606, 815, 316, 28, 173781, 200008, 10848, 7340, 1243, 220, 455, 92, 200007],
     [{'role': 'tool', 'name': 'functions.get_weather', 'content': [{'type': 'text', 'text': '{"temp": 20}'}], 'channel': 'commentary', 'recipient': 'assistant'}]),
    ({'role': 'tool', 'name': 'browser.search', 'channel': 'commentary', 'content': [{'type': 'text', 'text': 'results'}]},
     [200006, 46071, 16718, 200005, 12606, 815, 200008, 16570, 200007],
     ('error', "Unknown role: browser.search (message header at tokens 1..6: 'browser.search<|channel|>commentary')")),
    ({'role': 'tool', 'name': 'python', 'content': [{'type': 'text', 'text': '1'}]},
     [200006, 29010, 200008, 16, 200007],
     ('error', "Unknown role: python (message header at tokens 1..2: 'python')")),
    ({'role': 'user', 'content': [{'type': 'text', 'text': 'a'}, {'type': 'text', 'text': 'b'}]},
     [200006, 1428, 200008, 64, 65, 200007],
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'ab'}]}]),
    ({'role': 'user', 'content': [{'type': 'text', 'text': ''}]},
     [200006, 1428, 200008, 200007],
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': ''}]}]),
    ({'role': 'user', 'content': [{'type': 'text', 'text': 'é 日本 🙂'}]},
     [200006, 1428, 200008, 377, 17428, 26192, 200007],
     [{'role': 'user', 'name': None, 'content': [{'type': 'text', 'text': 'é 日本 🙂'}]}]),
    ({'role': 'assistant', 'channel': 'final', 'content_type': 'text/plain', 'content': [{'type': 'text', 'text': 'x'}]},
     [200006, 173781, 200005, 17196, 220, 200003, 919, 82045, 200008, 87, 200007],
     [{'role': 'assistant', 'name': None, 'content': [{'type': 'text', 'text': 'x'}], 'channel': 'final', 'recipient': '<|constrain|>text/plain'}]),
]


@pytest.mark.parametrize("message, tokens, parsed", ROUND_TRIPS)
def test_render_then_parse(enc, message, tokens, parsed):
    rendered = enc.render_conversation(Conversation.from_messages([Message.from_dict(message)]))
    assert rendered == tokens
    if isinstance(parsed, tuple):
        with pytest.raises(HarmonyError) as info:
            enc.parse_messages_from_completion_tokens(rendered, None)
        assert str(info.value) == parsed[1]
    else:
        assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(rendered, None)] == parsed


def test_render_then_parse_whole_conversation(enc):
    good = [(m, p) for m, _, p in ROUND_TRIPS if not isinstance(p, tuple)]
    convo = Conversation.from_messages([Message.from_dict(m) for m, _ in good])
    everything = [msg for _, p in good for msg in p]
    kept = RenderConversationConfig(auto_drop_analysis=False)
    rendered = enc.render_conversation(convo, kept)
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(rendered, None)] == everything
    # Reading it tolerantly changes nothing for well-formed input.
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(rendered, None, strict=False)] == everything
    # By default the analysis message before the first final answer is not rendered (as in the reference).
    rendered = enc.render_conversation(convo)
    thinking = {"role": "assistant", "name": None, "content": [{"type": "text", "text": "thinking"}],
                "channel": "analysis"}
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(rendered, None)] == [
        m for m in everything if m != thinking]


def test_render_for_completion_then_parse_the_completion(enc):
    convo = Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")])
    prompt = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert prompt == [200006, 1428, 200008, 12194, 200007, 200006, 173781]
    completion = enc.encode("<|channel|>final<|message|>Hello!<|return|>", allowed_special="all")
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(completion, Role.ASSISTANT)] == [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hello!"}], "channel": "final"}]
    # Prompt and completion together are a whole conversation.
    assert [m.to_dict() for m in enc.parse_messages_from_completion_tokens(prompt + completion, None)] == [
        {"role": "user", "name": None, "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hello!"}], "channel": "final"}]
    # The prompt alone ends inside a header (reference: "Unexpected EOS while waiting for message header to complete").
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(prompt, None)
    assert str(info.value) == ("Unexpected EOS while waiting for message header to complete "
                               "(token 7: expected <|message|>, found the end of the input)")
