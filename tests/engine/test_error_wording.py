"""Error wording: every strict parse error starts with the reference's exact text, then says where.

The project's rule for errors: a message starts with the reference's wording
where the reference has one, then names the place (token index, header span)
and what was expected, in parentheses. Code and logs written against
``openai_harmony`` match on that text (e.g. ``"Unexpected token" in str(exc)``),
so it must be the same.

CORPUS has one malformed completion for each error path, with the token whose
``StreamableParser.process`` raises (``len(tokens)``: ``process_eos``), the
reference's message, and our full message. Both references (oss-harmony 0.0.11
and openai-harmony 0.0.8) give the same message and raise at the same token for
every case but the last, which only the openai-harmony dialect rejects.
"""

from __future__ import annotations

import random

import pytest

from harmony_grammar import HarmonyError, Role, StreamableParser, load_harmony_encoding
from harmony_grammar.engine.parse import rust_debug_str

DIALECTS = ("oss-harmony", "openai-harmony")

# (name, completion (text, encoded with every special token allowed, or token ids), role, strict,
#  the token that raises when streaming, the reference's message, our message[, the only dialect it is for])
CORPUS = [
    ('stop_where_start_due', '<|start|>user<|message|>x<|end|><|return|>', None, True, 5,
     'Unexpected token 200002 while expecting start token 200006',
     'Unexpected token 200002 while expecting start token 200006 '
     '(token 5: expected <|start|>, found <|return|>)'),
    ('stop_where_start_due_tolerant', '<|start|>user<|message|>x<|end|><|return|>', None, False, 5,
     'Unexpected token 200002 while expecting start token 200006',
     'Unexpected token 200002 while expecting start token 200006 '
     '(token 5: expected <|start|>, found <|return|>)'),
    ('end_where_start_due', '<|start|>user<|message|>x<|end|><|end|>', None, True, 5,
     'Unexpected token 200007 while expecting start token 200006',
     'Unexpected token 200007 while expecting start token 200006 '
     '(token 5: expected <|start|>, found <|end|>)'),
    ('text_before_start', 'hi<|start|>user<|message|>x<|end|>', None, True, 0,
     'Unexpected token 3686 while expecting start token 200006',
     'Unexpected token 3686 while expecting start token 200006 '
     '(token 0: expected <|start|>, found text)'),
    ('text_between', '<|start|>user<|message|>x<|end|>hi', None, True, 5,
     'Unexpected token 3686 while expecting start token 200006',
     'Unexpected token 3686 while expecting start token 200006 '
     '(token 5: expected <|start|>, found text)'),
    ('text_after_completion', '<|message|>x<|end|>hi', 'assistant', True, 3,
     'Unexpected token 3686 while expecting start token 200006',
     'Unexpected token 3686 while expecting start token 200006 '
     '(token 3: expected <|start|>, found text)'),
    ('text_after_broken_header', '<|channel|>final<|call|>x', 'assistant', False, 3,
     'Unexpected token 87 while expecting start token 200006',
     'Unexpected token 87 while expecting start token 200006 '
     '(token 3: expected <|start|>, found text)'),
    ('message_first', '<|message|>x<|end|>', None, True, 0,
     'Unexpected token 200008 while expecting start token 200006',
     'Unexpected token 200008 while expecting start token 200006 '
     '(token 0: expected <|start|>, found <|message|>)'),
    ('message_between', '<|start|>user<|message|>x<|end|><|message|>', None, True, 5,
     'Unexpected token 200008 while expecting start token 200006',
     'Unexpected token 200008 while expecting start token 200006 '
     '(token 5: expected <|start|>, found <|message|>)'),
    ('message_after_broken_header', '<|start|>user<|end|><|message|>x<|end|>', None, False, 3,
     'Unexpected token 200008 while expecting start token 200006',
     'Unexpected token 200008 while expecting start token 200006 '
     '(token 3: expected <|start|>, found <|message|>)'),
    ('channel_first_without_role', '<|channel|>final<|message|>x<|end|>', None, True, 0,
     'Unexpected token 200005 while expecting start token 200006',
     'Unexpected token 200005 while expecting start token 200006 '
     '(token 0: expected <|start|>, found <|channel|>)'),
    ('constrain_between', '<|start|>user<|message|>x<|end|><|constrain|>json', None, True, 5,
     'Unexpected token 200003 while expecting start token 200006',
     'Unexpected token 200003 while expecting start token 200006 '
     '(token 5: expected <|start|>, found <|constrain|>)'),
    ('reserved_between', '<|start|>assistant<|channel|>final<|message|>Hi<|end|><|reserved_200013|>', None, True, 7,
     'Unexpected token 200013 while expecting start token 200006',
     'Unexpected token 200013 while expecting start token 200006 '
     '(token 7: expected <|start|>, found <|reserved_200013|>)'),
    ('endoftext_between', '<|start|>assistant<|channel|>final<|message|>Hi<|end|><|endoftext|>', None, True, 7,
     'Unexpected token 199999 while expecting start token 200006',
     'Unexpected token 199999 while expecting start token 200006 '
     '(token 7: expected <|start|>, found <|endoftext|>)'),
    ('oov_between', [200006, 173781, 200005, 17196, 200008, 12194, 200007, 201089], None, True, 7,
     'Unexpected token 201089 while expecting start token 200006',
     'Unexpected token 201089 while expecting start token 200006 '
     '(token 7: expected <|start|>, found an id outside the vocabulary)'),
    ('oov_first', [201089, 200006, 1428, 200008, 87, 200007], None, True, 0,
     'Unexpected token 201089 while expecting start token 200006',
     'Unexpected token 201089 while expecting start token 200006 '
     '(token 0: expected <|start|>, found an id outside the vocabulary)'),
    ('eos_in_header', '<|start|>assistant<|channel|>fin', None, True, 4,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 4: expected <|message|>, found the end of the input)'),
    ('eos_after_start', '<|start|>', None, True, 1,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 1: expected <|message|>, found the end of the input)'),
    ('eos_after_start_tolerant', '<|start|>', None, False, 1,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 1: expected <|message|>, found the end of the input)'),
    ('eos_with_role', '', 'assistant', True, 0,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 0: expected <|message|>, found the end of the input)'),
    ('eos_in_header_with_role_tolerant', '<|channel|>final', 'assistant', False, 2,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 2: expected <|message|>, found the end of the input)'),
    ('eos_after_stop_in_header_with_role', '<|channel|>final<|end|>', 'assistant', True, 3,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 3: expected <|message|>, found the end of the input)'),
    ('eos_in_second_header', '<|start|>user<|message|>x<|end|><|start|>assistant', None, True, 7,
     'Unexpected EOS while waiting for message header to complete',
     'Unexpected EOS while waiting for message header to complete '
     '(token 7: expected <|message|>, found the end of the input)'),
    ('start_start', '<|start|><|start|>assistant<|message|>x<|end|>', None, True, 3,
     'Unknown role: <|start|>assistant',
     'Unknown role: <|start|>assistant '
     "(message header at tokens 1..3: '<|start|>assistant')"),
    ('stop_in_header_strict', '<|start|>assistant<|end|><|start|>user<|message|>hi<|end|>', None, True, 5,
     'Unknown role: assistant<|end|><|start|>user',
     'Unknown role: assistant<|end|><|start|>user '
     "(message header at tokens 1..5: 'assistant<|end|><|start|>user')"),
    ('unknown_role', '<|start|>robot<|message|>x<|end|>', None, True, 2,
     'Unknown role: robot',
     'Unknown role: robot '
     "(message header at tokens 1..2: 'robot')"),
    ('no_role', '<|start|><|channel|>final<|message|>x<|end|>', None, True, 3,
     'message header did not contain a role',
     'message header did not contain a role '
     "(message header at tokens 1..3: '<|channel|>final')"),
    ('empty_header', '<|start|><|message|>x<|end|>', None, True, 1,
     'message header did not contain a role',
     'message header did not contain a role '
     "(message header at tokens 1..1: '')"),
    ('reserved_in_header', [200006, 173781, 200013, 200008, 12194, 200007], None, True, 3,
     'Unknown role: assistant<|reserved_200013|>',
     'Unknown role: assistant<|reserved_200013|> '
     "(message header at tokens 1..3: 'assistant<|reserved_200013|>')"),
    ('empty_channel', '<|start|>assistant<|channel|><|message|>x<|end|>', None, True, 3,
     'channel marker present but no channel value found in header',
     'channel marker present but no channel value found in header '
     "(message header at tokens 1..3: 'assistant<|channel|>')"),
    ('empty_channel_in_broken_header', '<|channel|><|end|><|start|>user<|message|>hi<|end|>', 'assistant', False, 1,
     'channel marker present but no channel value found in header',
     'channel marker present but no channel value found in header '
     "(message header at tokens 0..1: '<|channel|>')"),
    ('repeated_recipient',
     '<|start|>assistant<|channel|>commentary to=functions.x to=functions.x<|message|>{}<|call|>', None, True, 13,
     'unexpected tokens remaining in message header: Some("to=functions.x")',
     'unexpected tokens remaining in message header: Some("to=functions.x") '
     "(message header at tokens 1..13: 'assistant<|channel|>commentary to=functions.x to=functions.x')"),
    ('stray_constrain_word',
     '<|start|>assistant<|channel|>commentary to=functions.f <|constrain|>response json<|message|>{}<|call|>', None, True, 13,
     'unexpected tokens remaining in message header: Some("to=functions.f")',
     'unexpected tokens remaining in message header: Some("to=functions.f") '
     "(message header at tokens 1..13: 'assistant<|channel|>commentary to=functions.f <|constrain|>response json')"),
    ('leftover_word_with_role', 'a b c<|message|>x<|end|>', 'assistant', True, 3,
     'unexpected tokens remaining in message header: Some("a")',
     'unexpected tokens remaining in message header: Some("a") '
     "(message header at tokens 0..3: 'a b c')"),
    ('leftover_words_quoted',
     '<|start|>assistant a"b c\\d e\u0301 f\u200bg h\xa0i j\x0bk n\'o \U0001f642 to=x json<|message|>x<|end|>', None, True, 24,
     'unexpected tokens remaining in message header: Some("a\\"b c\\\\d e\\u{301} f\\u{200b}g h\\u{a0}i j\\u{b}k n\'o \U0001f642")',
     'unexpected tokens remaining in message header: Some("a\\"b c\\\\d e\\u{301} f\\u{200b}g h\\u{a0}i j\\u{b}k n\'o \U0001f642") '
     '(message header at tokens 1..24: \'assistant a"b c\\\\d e\u0301 f\\u200bg h\\xa0i j\\x0bk n\\\'o \U0001f642 to=x json\')'),
    ('leftover_words_control', '<|start|>assistant \x00\x07 \x7f \x85x to=x json<|message|>x<|end|>', None, True, 14,
     'unexpected tokens remaining in message header: Some("\\0\\u{7} \\u{7f} \\u{85}x")',
     'unexpected tokens remaining in message header: Some("\\0\\u{7} \\u{7f} \\u{85}x") '
     "(message header at tokens 1..14: 'assistant \\x00\\x07 \\x7f \\x85x to=x json')"),
    ('oov_in_header', [200006, 173781, 201089, 200008, 12194, 200007], None, True, 3,
     'could not decode header',
     'could not decode header '
     '(token 2: id 201089 in a message header is not in the vocabulary, which has ids 0..201088)'),
    ('oov_as_header', [200006, 250000, 200008, 12194, 200007], None, True, 2,
     'could not decode header',
     'could not decode header '
     '(token 1: id 250000 in a message header is not in the vocabulary, which has ids 0..201088)'),
    ('u32_max_in_header', [200006, 173781, 4294967295, 200008, 12194, 200007], None, True, 3,
     'could not decode header',
     'could not decode header '
     '(token 2: id 4294967295 in a message header is not in the vocabulary, which has ids 0..201088)'),
    ('invalid_utf8_header', [200006, 173781, 187, 200008, 87, 200007], None, True, 3,
     'could not decode header',
     'could not decode header '
     '(tokens 1..3: the message header is not valid UTF-8; bad byte at offset 9)'),
    ('oov_in_broken_header', [201089, 200007], 'assistant', False, 1,
     'Could not decode tokens: Invalid token error: Invalid token for decoding: 201089',
     'Could not decode tokens: Invalid token error: Invalid token for decoding: 201089 '
     '(token 0: id 201089 in a message header is not in the vocabulary, which has ids 0..201088)'),
    ('invalid_utf8_broken_header', [87, 187, 200007], 'user', False, 2,
     'Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 bytes from index 1',
     'Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 bytes from index 1 '
     '(tokens 0..2: the message header is not valid UTF-8; bad byte at offset 1)'),
    ('incomplete_utf8_broken_header', [87, 158, 224, 200007], 'user', False, 3,
     'Could not decode tokens: Invalid utf-8 sequence: incomplete utf-8 byte sequence from index 1',
     'Could not decode tokens: Invalid utf-8 sequence: incomplete utf-8 byte sequence from index 1 '
     '(tokens 0..3: the message header is not valid UTF-8; bad byte at offset 1)'),
    ('invalid_utf8_2_bytes_broken_header', [87, 158, 224, 87, 200007], 'user', False, 4,
     'Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 2 bytes from index 1',
     'Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 2 bytes from index 1 '
     '(tokens 0..4: the message header is not valid UTF-8; bad byte at offset 1)'),
    ('extra_channel', '<|start|>assistant<|channel|>analysis<|channel|>final<|message|>x<|end|>', None, True, 6,
     'Unknown role: assistant<|channel|>final',
     'Unknown role: assistant<|channel|>final '
     "(message header at tokens 1..6: 'assistant<|channel|>analysis<|channel|>final')", 'openai-harmony'),
]


def _cases(dialect: str) -> list[tuple]:
    return [c for c in CORPUS if len(c) == 7 or c[7] == dialect]


def _tokens(enc, completion) -> list[int]:
    return enc.encode(completion, allowed_special="all") if isinstance(completion, str) else completion


def _params():
    return [pytest.param(d, *c[:7], id=f"{d}-{c[0]}") for d in DIALECTS for c in _cases(d)]


@pytest.mark.parametrize("dialect, name, completion, role, strict, at, ref_message, message", _params())
def test_batch_message(dialect, name, completion, role, strict, at, ref_message, message):
    enc = load_harmony_encoding("HarmonyGptOss", dialect=dialect)
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(_tokens(enc, completion), role, strict=strict)
    assert str(info.value) == message


@pytest.mark.parametrize("dialect, name, completion, role, strict, at, ref_message, message", _params())
def test_stream_message_and_the_token_that_raises(dialect, name, completion, role, strict, at, ref_message, message):
    enc = load_harmony_encoding("HarmonyGptOss", dialect=dialect)
    tokens = _tokens(enc, completion)
    parser = StreamableParser(enc, None if role is None else Role(role), strict=strict)
    for token in tokens[:at]:
        parser.process(token)
    with pytest.raises(HarmonyError) as info:
        if at < len(tokens):
            parser.process(tokens[at])
        else:
            parser.process_eos()
    assert str(info.value) == message


@pytest.mark.parametrize("name, ref_message, message", [(c[0], c[5], c[6]) for c in CORPUS])
def test_our_message_starts_with_the_reference_wording(name, ref_message, message):
    assert message.startswith(ref_message + " (") and message.endswith(")")


def test_the_corpus_reaches_every_error_path():
    wordings = {"Unexpected token ", "Unexpected EOS while waiting for message header to complete", "Unknown role: ",
                "message header did not contain a role", "channel marker present but no channel value found in header",
                "unexpected tokens remaining in message header: ", "could not decode header",
                "Could not decode tokens: Invalid token error: ", "Could not decode tokens: Invalid utf-8 sequence: "}
    assert all(any(c[5].startswith(w) for c in CORPUS) for w in wordings)


def _check_live(oracle, dialect: str) -> None:
    """Run the corpus through the reference, batch and streaming: same message, same raising token."""
    enc = load_harmony_encoding("HarmonyGptOss", dialect=dialect)
    corpus = _cases(dialect)
    cases = [{"op": op, "tokens": _tokens(enc, c[1]), "role": c[2], "strict": c[3]}
             for c in corpus for op in ("parse", "stream")]
    theirs = iter(oracle(cases))
    problems = []
    for name, _, _, _, at, ref_message, message in (c[:7] for c in corpus):
        batch, stream = next(theirs), next(theirs)
        raised = [(i, s) for i, s in enumerate(stream.get("steps", [])) if "error" in s]
        got = (batch.get("error"), batch.get("message"), raised[-1][0] if raised else None,
               raised[-1][1]["message"] if raised else None)
        if got != ("HarmonyError", ref_message, at, ref_message) or not message.startswith(got[1]):
            problems.append(f"{name}: reference {got}, recorded (HarmonyError, {ref_message!r}, {at})")
    assert not problems, "\n".join(problems)


def test_reference_wording_is_live_oss_harmony(oss_oracle):
    _check_live(oss_oracle, "oss-harmony")


def test_reference_wording_is_live_openai_harmony(openai_oracle):
    _check_live(openai_oracle, "openai-harmony")


# -- where the reference has no wording of its own --------------------------------------------------

# Ids no token can have. Both references raise OverflowError ("out of range integral type conversion
# attempted", from converting the Python int to u32, before any harmony code runs) or TypeError for
# non-integers; we raise HarmonyError instead, in our own words, naming the token and the range.
OUT_OF_RANGE = [
    ([200006, 2**32], 1, "token 1: id 4294967296 is out of range (token ids are 0..4294967295)"),
    ([-1], 0, "token 0: id -1 is out of range (token ids are 0..4294967295)"),
    ([200006, 173781, 200008, 2**40, 200007], 3, "token 3: id 1099511627776 is out of range (token ids are 0..4294967295)"),
    ([200006, 1.5], 1, "token 1: expected an integer token id, found float 1.5"),
]


@pytest.mark.parametrize("tokens, at, message", OUT_OF_RANGE)
def test_ids_out_of_range_keep_our_wording(enc, tokens, at, message):
    with pytest.raises(HarmonyError) as info:
        enc.parse_messages_from_completion_tokens(tokens)
    assert str(info.value) == message
    parser = StreamableParser(enc, None)
    for token in tokens[:at]:
        parser.process(token)
    with pytest.raises(HarmonyError) as info:
        parser.process(tokens[at])
    assert str(info.value) == message


def test_ids_out_of_range_are_not_harmony_errors_in_the_reference(oss_oracle):
    cases = [{"op": op, "tokens": tokens, "role": None, "strict": True} for tokens, _, _ in OUT_OF_RANGE[:3]
             for op in ("parse", "stream")]
    kinds = {r["error"] if "error" in r else r["steps"][-1]["error"] for r in oss_oracle(cases)}
    assert kinds == {"OverflowError"}


# -- decoding (HarmonyEncoding.decode / decode_utf8) ---------------------------------------------------

# (method, token ids, the reference's message, our message)
DECODING = [
    ("decode", [12194, 201089], "Invalid token for decoding: 201089",
     "Invalid token for decoding: 201089 (token 1; the vocabulary has ids 0..201088)"),
    ("decode_utf8", [12194, 201089], "Could not decode tokens: Invalid token error: Invalid token for decoding: 201089",
     "Could not decode tokens: Invalid token error: Invalid token for decoding: 201089 "
     "(token 1; the vocabulary has ids 0..201088)"),
    ("decode_utf8", [12194, 187], "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 bytes "
     "from index 2",
     "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 bytes from index 2 "
     "(token 1: the tokens do not decode to UTF-8 text; bad byte at offset 2)"),
    ("decode_utf8", [87, 158, 224], "Could not decode tokens: Invalid utf-8 sequence: incomplete utf-8 byte sequence "
     "from index 1",
     "Could not decode tokens: Invalid utf-8 sequence: incomplete utf-8 byte sequence from index 1 "
     "(token 1: the tokens do not decode to UTF-8 text; bad byte at offset 1)"),
    ("decode_utf8", [87, 158, 224, 87], "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 2 "
     "bytes from index 1",
     "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 2 bytes from index 1 "
     "(token 1: the tokens do not decode to UTF-8 text; bad byte at offset 1)"),
    ("decode_utf8", [87, 169, 254, 222], "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 "
     "bytes from index 1",
     "Could not decode tokens: Invalid utf-8 sequence: invalid utf-8 sequence of 1 bytes from index 1 "
     "(token 1: the tokens do not decode to UTF-8 text; bad byte at offset 1)"),
]


@pytest.mark.parametrize("method, tokens, ref_message, message", DECODING)
def test_decoding_message(enc, method, tokens, ref_message, message):
    with pytest.raises(HarmonyError) as info:
        getattr(enc, method)(tokens)
    assert str(info.value) == message
    assert message.startswith(ref_message + " (")


def test_decoding_wording_is_live(oss_oracle):
    theirs = oss_oracle([{"op": method, "tokens": tokens} for method, tokens, _, _ in DECODING])
    assert theirs == [{"error": "HarmonyError", "message": ref} for _, _, ref, _ in DECODING]


# -- Rust's Debug quoting (the reference writes leftover header words as Some("...")) ------------------

@pytest.mark.parametrize("text, quoted", [
    ("to=a", '"to=a"'),
    ('a"b', '"a\\"b"'),
    ("c\\d", '"c\\\\d"'),
    ("n'o", '"n\'o"'),
    ("\t\r\n\x00", '"\\t\\r\\n\\0"'),
    ("\x07\x1f\x7f\x85", '"\\u{7}\\u{1f}\\u{7f}\\u{85}"'),
    ("e\u0301", '"e\\u{301}"'),            # a combining mark (Grapheme_Extend)
    ("\u200c\u200b\u2028", '"\\u{200c}\\u{200b}\\u{2028}"'),  # ZWNJ, ZWSP, line separator
    ("\xa0\u3000", '"\\u{a0}\\u{3000}"'),  # separators other than the space
    ("é日本🙂", '"é日本🙂"'),
    ("", '""'),
])
def test_rust_debug_str(text, quoted):
    assert rust_debug_str(text) == quoted


def test_rust_debug_str_matches_the_reference_on_sampled_code_points(oss_oracle, enc):
    """Leftover words with sampled code points: the reference's Some("...") is ours, character for character
    (every code point was checked once this way; the sample keeps the test fast)."""
    from harmony_grammar.engine.parse import _ADDED_IN_UNICODE_17

    rng = random.Random(17)
    codes = set(range(0x80, 0x100)) | set(range(0x300, 0x370)) | {0x200B, 0x200C, 0x200D, 0x2028, 0xFE0F, 0xE0020}
    codes |= {c for a, b in _ADDED_IN_UNICODE_17 for c in (a - 1, a, b, b + 1)}
    codes |= set(rng.sample(range(0x80, 0x110000), 3000))
    codes = sorted(c for c in codes if not 0xD800 <= c < 0xE000 and chr(c) not in "\t\n\x0c\r ")
    # 20 code points a word keeps each message under the 300 characters the oracle worker returns.
    words = ["x" + "".join(map(chr, codes[i:i + 20])) + "y" for i in range(0, len(codes), 20)]
    cases = [{"op": "parse", "role": None, "strict": True,
              "tokens": enc.encode(f"<|start|>assistant {w} to=x json<|message|>x<|end|>", allowed_special="all")}
             for w in words]
    expected = [{"error": "HarmonyError",
                 "message": f"unexpected tokens remaining in message header: Some({rust_debug_str(w)})"}
                for w in words]
    assert oss_oracle(cases) == expected
