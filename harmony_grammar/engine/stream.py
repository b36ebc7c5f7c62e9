"""Streaming parsing: ``StreamableParser`` takes one token at a time, with the reference's API and state.

The grammar's interactive parser checks each structural token as it arrives;
content tokens take a fast path that never enters the grammar. Headers are read
by the same interpreter as batch parsing, content by the same decoder.

    >>> from harmony_grammar import load_harmony_encoding, Role
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> p = StreamableParser(enc, Role.ASSISTANT)
    >>> for t in enc.encode("<|channel|>final<|message|>Hi!", allowed_special="all"):
    ...     _ = p.process(t)
    >>> p.current_channel, p.current_content, p.last_content_delta
    ('final', 'Hi!', '!')
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, List, Optional

from lark import Token
from lark.exceptions import UnexpectedInput

from harmony_grammar.format.content import ContentDecoder
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.tokens import MAX_TOKEN_ID, as_token_id
from harmony_grammar.format.header import ParsedHeader
from harmony_grammar.model import Message, Role
from harmony_grammar.engine.parse import HasParser, header_message
from harmony_grammar.engine.recover import RecoveringParser
from harmony_grammar.format.diagnostics import Diagnostic

__all__ = ["StreamableParser", "StreamState"]


class StreamState(Enum):
    """Where the parser is: between messages, in a header, or in content."""

    EXPECT_START = "ExpectStart"
    HEADER = "Header"
    CONTENT = "Content"


_EXPECT, _HEADER, _CONTENT = StreamState.EXPECT_START, StreamState.HEADER, StreamState.CONTENT


class StreamableParser(RecoveringParser):
    """Incremental parser over completion tokens.

    With ``recover=True`` it never raises on model output: well-formed output reads as
    with ``strict=True``, and what the strict rules refuse is repaired by the rules of
    ``grammar/recovery.json`` and reported in :attr:`diagnostics` (see
    :mod:`harmony_grammar.engine.recover`); :attr:`spans` gives each message's tokens.
    """

    _EXPECT, _HEADER, _CONTENT = StreamState.EXPECT_START, StreamState.HEADER, StreamState.CONTENT

    def __init__(self, encoding: HasParser, role: Optional[Role], *, strict: bool = True,
                 recover: bool = False) -> None:
        parser = encoding.parser
        self._parser = parser
        self._grammar = parser.grammar
        self._tokenizer = parser.tokenizer
        self._strict = bool(strict)
        tok = self._tokenizer
        self._stop = tok.stop_tokens
        self._message_id = tok.special_id("<|message|>")
        self._next_role: Optional[str] = None if role is None else Role(role).value
        self._tokens: list[int] = []
        self._messages: list[Message] = []
        self._header_tokens: list[int] = []
        self._header: Optional[ParsedHeader] = None
        self._decoder: Optional[ContentDecoder] = None
        self._content_tokens: list[int] = []
        self._encoded_pieces = 0
        self._last_delta: Optional[str] = None
        self._in_text = False
        self._spans: list[tuple[int, int]] = []
        self._diagnostics: list[Diagnostic] = []
        if self._next_role is not None:
            self._state = _HEADER
            self._ip = self._grammar.interactive(self._grammar.start_symbol(True, self._strict))
        else:
            self._state = _EXPECT
            self._ip = self._grammar.interactive(self._grammar.start_symbol(False, self._strict))
        if recover:
            if not self._strict:
                raise HarmonyError("recover=True reads well-formed output exactly as strict=True does; "
                                   "it cannot be combined with strict=False")
            self._init_recovery(self._next_role)

    # -- feeding -------------------------------------------------------------

    def _feed(self, token: int, index: int) -> None:
        """Show one structural token to the grammar; it raises if the token cannot come here."""
        grammar = self._grammar
        if grammar.is_special(token):
            terminal = grammar.terminal(token, index)
            self._in_text = False
        elif self._in_text:
            return
        else:
            terminal = Token("TEXT", "", start_pos=index, end_pos=index + 1)
            self._in_text = True
        try:
            self._ip.feed_token(terminal)
        except UnexpectedInput as exc:
            self._in_text = False
            raise grammar.syntax_error(exc, self._tokens) from None

    def process(self, token: int) -> "StreamableParser":
        """Consume one token."""
        if type(token) is not int or not 0 <= token <= MAX_TOKEN_ID:
            token = as_token_id(token, len(self._tokens))
        index = len(self._tokens)
        self._tokens.append(token)
        state = self._state
        if state is _CONTENT:
            if token in self._stop:  # content then a stop token: always grammatical
                self._end_message()
                return self
            self._last_delta = self._decoder.feed(token)  # type: ignore[union-attr]
            return self
        if state is _HEADER:
            if token == self._message_id:
                self._feed(token, index)
                self._begin_content(index)
            elif not self._strict and token in self._stop:  # a tolerant header may end here
                self._end_broken_header(index)
            else:
                self._feed(token, index)
                self._header_tokens.append(token)
            return self
        self._feed(token, index)
        self._state = _HEADER
        self._header_tokens = []
        return self

    def process_eos(self) -> "StreamableParser":
        """Signal the end of the completion: an open message is closed, an open header is an error."""
        if self._state is _HEADER:
            try:
                self._ip.copy().feed_eof()
            except UnexpectedInput as exc:
                raise self._grammar.syntax_error(exc, self._tokens) from None
        elif self._state is _CONTENT:
            self._end_message()
        return self

    # -- transitions -----------------------------------------------------------

    def _begin_content(self, index: int) -> None:
        start = index - len(self._header_tokens)
        try:
            self._header = self._parser.read_header(self._tokens, start, index, self._next_role)
        except HarmonyError:
            # The reference drops to ExpectStart, keeping the role it was given.
            self._between_messages()
            raise
        self._next_role = None
        self._state = _CONTENT
        self._decoder = ContentDecoder(self._tokenizer)
        self._content_tokens = []
        self._encoded_pieces = 0
        self._in_text = False

    def _end_broken_header(self, index: int) -> None:
        """Tolerant mode: a stop token ended a header before <|message|>."""
        if self._next_role is not None and self._header_tokens:
            start = index - len(self._header_tokens)
            parsed = self._parser.read_header(self._tokens, start, index, self._next_role, fields=False)
            self._messages.append(header_message(parsed, parsed.remaining or ""))
        self._next_role = None
        self._between_messages()

    def _between_messages(self) -> None:
        """A message has ended: the grammar starts afresh between messages, so a long stream keeps
        no parse tree (the state after a stop token is the start state of a conversation)."""
        self._state = _EXPECT
        self._in_text = False
        self._ip = self._grammar.interactive(self._grammar.start_symbol(False, self._strict))

    def _end_message(self) -> None:
        assert self._header is not None and self._decoder is not None
        self._messages.append(header_message(self._header, self._decoder.finish()))
        self._header = None
        self._decoder = None
        self._content_tokens = []
        self._encoded_pieces = 0
        self._last_delta = None
        self._between_messages()

    # -- properties ------------------------------------------------------------

    @property
    def current_content(self) -> str:
        """The text of the current message so far."""
        return self._decoder.text() if self._state is _CONTENT and self._decoder else ""

    @property
    def current_role(self) -> Optional[Role]:
        if self._state is _CONTENT and self._header is not None:
            return Role(self._header.role)
        return None if self._next_role is None else Role(self._next_role)

    @property
    def current_content_type(self) -> Optional[str]:
        return self._header.content_type if self._state is _CONTENT and self._header else None

    @property
    def current_recipient(self) -> Optional[str]:
        return self._header.recipient if self._state is _CONTENT and self._header else None

    @property
    def current_channel(self) -> Optional[str]:
        return self._header.channel if self._state is _CONTENT and self._header else None

    @property
    def last_content_delta(self) -> Optional[str]:
        return self._last_delta

    @property
    def messages(self) -> List[Message]:
        """Every complete message so far (copies: changing them does not change the parser)."""
        return [m.model_copy(deep=True) for m in self._messages]

    @property
    def message_count(self) -> int:
        """How many messages are complete (cheaper than ``len(messages)``, which copies them)."""
        return len(self._messages)

    def messages_from(self, start: int) -> List[Message]:
        """Copies of the complete messages from index ``start`` on."""
        return [m.model_copy(deep=True) for m in self._messages[start:]]

    @property
    def tokens(self) -> List[int]:
        """Every token processed so far."""
        return list(self._tokens)

    @property
    def last_token(self) -> Optional[int]:
        """The id of the last token processed, as read (recovery reads a non-id integer as 4294967295)."""
        return self._tokens[-1] if self._tokens else None

    def _content_token_ids(self) -> list[int]:
        """The reference's ``content_tokens``: each decoded piece re-encoded as ordinary text."""
        pieces = self._decoder.pieces if self._decoder else []
        encode = self._tokenizer.encode_ordinary
        for piece in pieces[self._encoded_pieces:]:
            self._content_tokens.extend(encode(piece))
        self._encoded_pieces = len(pieces)
        return self._content_tokens

    @property
    def state_data(self) -> Dict[str, Any]:
        """The parser's state as the reference serializes it."""
        if self._state is _CONTENT and self._header is not None:
            return {"state": "Content", "header": self._header.state_json(),
                    "content_tokens": list(self._content_token_ids())}
        if self._state is _HEADER:
            return {"state": "Header", "header_tokens": list(self._header_tokens)}
        return {"state": "ExpectStart"}

    @property
    def state(self) -> StreamState:
        return self._state
