"""Large inputs: a 1 MB message round-trips exactly; a long stream keeps only what it must.

No timing here (tests/fuzz/fuzz.py --size measures time and RSS). Memory is
checked through the streaming parser's state after each message: complete
messages and the tokens seen are kept (the API returns them), everything built
for one message is dropped when it ends.
"""

from __future__ import annotations

import random

from lark import Token, Tree

import generators
from harmony_grammar import Conversation, Message, Role, StreamableParser, StreamState

START, MESSAGE, END, CALL, RETURN = 200006, 200008, 200007, 200012, 200002


def _text(nbytes: int, seed: int) -> str:
    rng = random.Random(seed)
    chunks, size = [], 0
    while size < nbytes:
        piece = generators.text(rng, 40, allow_empty=False)
        chunks.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(chunks)


def test_one_megabyte_message_round_trips(enc):
    text = _text(1_000_000, seed=11)
    assert len(text.encode("utf-8")) >= 1_000_000
    msg = Message.from_role_and_content(Role.ASSISTANT, text).with_channel("final")
    tokens = enc.render_conversation(Conversation.from_messages([msg]))
    assert tokens == enc.render(msg)
    parsed = enc.parse_messages_from_completion_tokens(tokens, None)
    assert [m.to_dict() for m in parsed] == [msg.to_dict()]

    parser = StreamableParser(enc, None)
    for t in tokens:
        parser.process(t)
    assert parser.state is StreamState.EXPECT_START
    assert [m.to_dict() for m in parser.messages] == [msg.to_dict()]


def test_one_megabyte_completion_streams_exactly(enc):
    """The same text as an unfinished completion after <|start|>assistant (content still open at EOS)."""
    text = _text(1_000_000, seed=12)
    tokens = enc.encode("<|channel|>final<|message|>", allowed_special="all") + enc.encode(text, disallowed_special=())
    parser = StreamableParser(enc, Role.ASSISTANT)
    for t in tokens:
        parser.process(t)
    assert parser.current_content == text
    parser.process_eos()
    assert parser.messages[0].content[0].text == text


# -- a long stream ---------------------------------------------------------------------------------

N_TOKENS = 300_000


def _stream(enc) -> tuple[list[int], int]:
    """Many messages, N_TOKENS in all; contents include special tokens (which content may hold)."""
    rng = random.Random(21)
    ordinary = enc.tokenizer.encode_ordinary
    heads = [enc.encode(h, allowed_special="all") for h in (
        "assistant<|channel|>analysis", "assistant<|channel|>final", "user", "system",
        "assistant to=functions.f<|channel|>commentary <|constrain|>json",
        "functions.f to=assistant<|channel|>commentary")]
    bodies = []
    for _ in range(50):
        body = ordinary(generators.text(rng, 50, allow_empty=False))
        for _ in range(rng.randint(0, 3)):  # <|start|>, <|message|>, <|channel|>, reserved: content to the parser
            body.insert(rng.randint(0, len(body)), rng.choice([START, MESSAGE, 200005, 200003, 200013, 199999]))
        bodies.append(body)
    tokens: list[int] = []
    n_messages = 0
    while len(tokens) < N_TOKENS:
        tokens += [START, *rng.choice(heads), MESSAGE, *rng.choice(bodies), rng.choice([END, CALL, RETURN])]
        n_messages += 1
    return tokens, n_messages


def _per_message_state(parser: StreamableParser) -> dict:
    """What the parser holds for the message in progress (white box: its private buffers)."""
    decoder = parser._decoder
    return {
        "header": parser._header,
        "decoder": decoder,
        "content_tokens": len(parser._content_tokens),
        "header_tokens": len(parser._header_tokens),
        "pieces": 0 if decoder is None else len(decoder.pieces),
        "pending": 0 if decoder is None else len(decoder.pending),
    }


def test_long_stream_drops_per_message_buffers(enc):
    tokens, n_messages = _stream(enc)
    parser = StreamableParser(enc, None)
    longest_header = 16
    # Undecodable bytes wait for the next token (as in the reference): at most one token's bytes and a bit.
    longest_pending = max(len(b) for b in enc.tokenizer.token_bytes) + 4
    in_message = 0  # tokens of the message in progress
    seen = 0
    for t in tokens:
        parser.process(t)
        in_message += 1
        state = _per_message_state(parser)
        # While a message is open, its buffers hold at most that message.
        assert state["header_tokens"] <= longest_header
        assert state["pieces"] <= in_message and state["pending"] <= longest_pending
        done = len(parser._messages)
        if done != seen:
            seen = done
            in_message = 0
            # A message just ended: nothing of it is left but the message itself.
            assert parser.state is StreamState.EXPECT_START
            assert parser.state_data == {"state": "ExpectStart"}
            assert state["header"] is None and state["decoder"] is None and state["content_tokens"] == 0
            assert parser.current_content == "" and parser.last_content_delta is None
    parser.process_eos()
    assert len(parser.tokens) == len(tokens)
    messages = parser.messages
    assert len(messages) == n_messages
    assert [m.to_dict() for m in messages] == [m.to_dict() for m in
                                               enc.parse_messages_from_completion_tokens(tokens, None)]


def _grammar_state_size(parser: StreamableParser) -> int:
    """Nodes the streaming parser's grammar state holds (its LALR value stack, trees flattened)."""

    def size(value: object) -> int:
        if isinstance(value, Tree):
            return 1 + sum(size(c) for c in value.children)
        if isinstance(value, (list, tuple)):
            return sum(size(c) for c in value)
        return 1 if isinstance(value, Token) else 0

    return size(parser._ip.parser_state.value_stack)


def test_long_stream_grammar_state_does_not_grow(enc):
    tokens, _ = _stream(enc)
    tokens = tokens[:30_000]
    parser = StreamableParser(enc, None)
    sizes = []
    seen = 0
    for t in tokens:
        parser.process(t)
        if len(parser._messages) != seen:
            seen = len(parser._messages)
            sizes.append(_grammar_state_size(parser))
    assert len(sizes) > 100
    assert max(sizes) <= 2 * sizes[0] + 16, f"grammar state grew from {sizes[0]} to {max(sizes)} nodes"
