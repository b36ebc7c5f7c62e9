"""Message content from token ids (harmony_grammar.format.content), decoded exactly as the reference streams it.

The expected deltas, texts and content tokens after each step are oss-harmony
0.0.11's ``last_content_delta``, ``current_content`` and
``state_data["content_tokens"]`` for a StreamableParser (role assistant) fed
``<|channel|>final<|message|>`` and then the content tokens; the final text is
the message it emits at ``<|end|>`` (the same at ``process_eos`` and from
``parse_messages_from_completion_tokens``).

Byte-level tokens of o200k used below: 64 'a', 65 'b', 66 'c', 87 'x', 127 0xC3,
102 0xA9 (é = C3 A9), 162 0xE6, 245 0x97, 98 0xA5 (日 = E6 97 A5), 172 0xF0,
253 0x9F, 247 0x99, 224 0x82 (🙂 = F0 9F 99 82), 187 0xFF; 2203 is the two
continuation bytes 82 AC, 1857 is A3 E1 83.
"""

from __future__ import annotations

import random

import pytest

from harmony_grammar.format.content import REPLACEMENT, ContentDecoder, decode_content

R = "\ufffd"

# (name, content tokens, [(delta, current_content, content_tokens) after each token], final text)
CASES = [
    ("e_acute_split", [127, 102], [(None, "", []), ("é", "é", [377])], "é"),
    ("cjk_split", [162, 245, 98], [(None, "", []), (None, "", []), ("日", "日", [2292])], "日"),
    ("emoji_split", [172, 253, 247, 224],
     [(None, "", []), (None, "", []), (None, "", []), ("🙂", "🙂", [37459])], "🙂"),
    ("lone_ff", [187], [(R, R, [3251])], R),
    # an invalid sequence becomes U+FFFD; the byte that broke it waits for the next token
    ("invalid_continuation", [64, 127, 65, 66],
     [("a", "a", [64]), (None, "a", [64]), (R, "a" + R, [64, 3251]), ("bc", "a" + R + "bc", [64, 3251, 16715])],
     "a" + R + "bc"),
    # two errors in one token: one replacement per step, the rest stays pending
    ("two_errors_one_token", [2203, 87], [(R, R, [3251]), (R, R + R, [3251, 3251])], R + R + "x"),
    ("error_then_incomplete", [1857, 102], [(R, R, [3251]), ("ჩ", R + "ჩ", [3251, 39647])], R + "ჩ"),
    # an id outside the vocabulary poisons the rest: decoded + U+FFFD + pending bytes (here C3)
    ("oov_poison", [12194, 127, 300000, 87, 162],
     [("Hi", "Hi", [12194]), (None, "Hi", [12194]), (None, "Hi", [12194]), (None, "Hi", [12194]),
      (None, "Hi", [12194])],
     "Hi" + R + R),
    ("oov_first", [300000, 12194], [(None, "", []), (None, "", [])], R),
    ("oov_with_pending_prefix", [12194, 162, 245, 2**32 - 1, 98],
     [("Hi", "Hi", [12194]), (None, "Hi", [12194]), (None, "Hi", [12194]), (None, "Hi", [12194]),
      (None, "Hi", [12194])],
     "Hi" + R + R),
    ("oov_201089", [87, 201089], [("x", "x", [87]), (None, "x", [87])], "x" + R),
    ("pending_at_end", [64, 127], [("a", "a", [64]), (None, "a", [64])], "a" + R),
    ("mixed", [12194, 162, 245, 187, 98, 377],
     [("Hi", "Hi", [12194]), (None, "Hi", [12194]), (None, "Hi", [12194]), (R, "Hi" + R, [12194, 3251]),
      (R, "Hi" + R * 2, [12194, 3251, 3251]), (R, "Hi" + R * 3, [12194, 3251, 3251, 3251])],
     "Hi" + R * 3 + "é"),
    # special tokens inside content decode to their spelling; content_tokens re-encode it as text
    ("specials_in_content", [87, 200006, 200008, 200005, 200003, 199999, 200013, 88],
     [("x", "x", [87]),
      ("<|start|>", "x<|start|>", [87, 27, 91, 5236, 91, 29]),
      ("<|message|>", "x<|start|><|message|>", [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29]),
      ("<|channel|>", "x<|start|><|message|><|channel|>",
       [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29, 27, 91, 21453, 91, 29]),
      ("<|constrain|>", "x<|start|><|message|><|channel|><|constrain|>",
       [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29, 27, 91, 21453, 91, 29, 27, 91, 542, 141043, 91, 29]),
      ("<|endoftext|>", "x<|start|><|message|><|channel|><|constrain|><|endoftext|>",
       [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29, 27, 91, 21453, 91, 29, 27, 91, 542, 141043, 91, 29,
        27, 91, 419, 1440, 919, 91, 29]),
      ("<|reserved_200013|>", "x<|start|><|message|><|channel|><|constrain|><|endoftext|><|reserved_200013|>",
       [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29, 27, 91, 21453, 91, 29, 27, 91, 542, 141043, 91, 29,
        27, 91, 419, 1440, 919, 91, 29, 27, 91, 116758, 62, 1179, 27819, 91, 29]),
      ("y", "x<|start|><|message|><|channel|><|constrain|><|endoftext|><|reserved_200013|>y",
       [87, 27, 91, 5236, 91, 29, 27, 91, 3938, 91, 29, 27, 91, 21453, 91, 29, 27, 91, 542, 141043, 91, 29,
        27, 91, 419, 1440, 919, 91, 29, 27, 91, 116758, 62, 1179, 27819, 91, 29, 88])],
     "x<|start|><|message|><|channel|><|constrain|><|endoftext|><|reserved_200013|>y"),
    # a special token breaks a pending character; its spelling waits behind the replacement
    ("special_after_pending", [162, 200013, 98],
     [(None, "", []), (R, R, [3251]), ("<|reserved_200013|>" + R, R + "<|reserved_200013|>" + R,
                                       [3251, 27, 91, 116758, 62, 1179, 27819, 91, 29, 3251])],
     R + "<|reserved_200013|>" + R),
    ("empty", [], [], ""),
]
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def tok(enc):
    return enc.tokenizer


def test_byte_tokens_are_what_the_cases_assume(tok):
    assert [tok.decode_bytes([i]) for i in (64, 65, 66, 87, 127, 102, 162, 245, 98, 172, 253, 247, 224, 187)] == [
        b"a", b"b", b"c", b"x", b"\xc3", b"\xa9", b"\xe6", b"\x97", b"\xa5", b"\xf0", b"\x9f", b"\x99", b"\x82", b"\xff"]
    assert tok.decode_bytes([2203]) == b"\x82\xac"
    assert tok.decode_bytes([1857]) == b"\xa3\xe1\x83"
    assert tok.n_vocab == 201089


@pytest.mark.parametrize("name, tokens, steps, final", CASES, ids=IDS)
def test_decoder_steps_match_reference(tok, name, tokens, steps, final):
    dec = ContentDecoder(tok)
    got = []
    for t in tokens:
        delta = dec.feed(t)
        content_tokens = [i for piece in dec.pieces for i in tok.encode_ordinary(piece)]
        got.append((delta, dec.text(), content_tokens))
    assert got == steps
    assert dec.finish() == final


@pytest.mark.parametrize("name, tokens, steps, final", CASES, ids=IDS)
def test_decode_content_matches_reference(tok, name, tokens, steps, final):
    assert decode_content(tok, tokens) == final


@pytest.mark.parametrize("name, tokens, steps, final", CASES, ids=IDS)
def test_parsed_message_text_matches_reference(enc, name, tokens, steps, final):
    head = [200005, 17196, 200008]  # <|channel|>final<|message|>
    for tail in ([200007], []):  # closed by <|end|>, or cut off by the end of the input
        [msg] = enc.parse_messages_from_completion_tokens(head + tokens + tail, "assistant")
        assert msg.to_dict() == {"role": "assistant", "name": None, "content": [{"type": "text", "text": final}],
                                 "channel": "final"}


def test_pending_bytes_and_poisoning(tok):
    dec = ContentDecoder(tok)
    assert (dec.pending, dec.poisoned, dec.pieces) == (b"", False, [])
    assert dec.feed(162) is None and dec.pending == b"\xe6"
    assert dec.feed(245) is None and dec.pending == b"\xe6\x97"
    assert dec.feed(98) == "日" and dec.pending == b""
    assert dec.feed(2203) == R and dec.pending == b"\xac"
    assert dec.feed(127) == R and dec.pending == b"\xc3"
    assert dec.pieces == ["日", R, R]
    assert dec.feed(300000) is None and dec.poisoned is True and dec.pending == b"\xc3"
    assert dec.feed(102) is None and dec.pending == b"\xc3"  # nothing more is read
    assert dec.text() == "日" + R + R
    assert dec.finish() == "日" + R + R + R + R


def test_replacement_constant():
    assert REPLACEMENT == "\ufffd"


def test_decode_content_without_oov_is_lossy_decode(tok):
    tokens = [12194, 162, 245, 187, 98, 377, 2203, 87, 127]
    assert decode_content(tok, tokens) == tok.decode_bytes(tokens).decode("utf-8", "replace") == "Hi" + R * 3 + "é" + R * 2 + "x" + R


# Content token ids: byte tokens, multi-byte pieces, ordinary text, specials that are not
# stop tokens, and ids outside the vocabulary.
_POOL = (list(range(256)) + [2203, 1857, 377, 2292, 37459, 12194, 3686, 17196]
         + [199998, 199999, 200000, 200003, 200005, 200006, 200008, 200013, 201088]
         + [201089, 300000, 2**31, 2**32 - 1])


def _random_contents(n: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(0, 12)
        out.append([rng.choice(_POOL) if rng.random() < 0.8 else rng.randint(0, 199997) for _ in range(k)])
    return out


def test_decode_content_equals_feeding_token_by_token(tok):
    for tokens in _random_contents(3000, seed=20250805):
        dec = ContentDecoder(tok)
        deltas = [dec.feed(t) for t in tokens]
        assert decode_content(tok, tokens) == dec.finish(), tokens
        # What was streamed (the non-None deltas) is exactly what text() holds.
        assert "".join(d for d in deltas if d is not None) == dec.text(), tokens


def test_random_contents_agree_with_reference(oss_oracle, enc, tok):
    contents = _random_contents(300, seed=7)
    head = [200005, 17196, 200008]
    cases = [{"op": "stream", "tokens": head + c + [200007], "role": "assistant"} for c in contents]
    results = oss_oracle(cases)
    for tokens, result in zip(contents, results):
        steps = result["steps"][3:]
        dec = ContentDecoder(tok)
        for t, step in zip(tokens, steps):
            delta = dec.feed(t)
            assert (delta, dec.text()) == (step["delta"], step["content"]), tokens
            assert [i for p in dec.pieces for i in tok.encode_ordinary(p)] == step["state_data"]["content_tokens"]
        [msg] = steps[len(tokens)]["new_messages"]
        assert msg["content"] == [{"type": "text", "text": dec.finish()}], tokens
        assert decode_content(tok, tokens) == dec.finish()
