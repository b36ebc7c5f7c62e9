"""Recovery: reading model output that the strict rules refuse, without losing a token.

``StreamableParser(encoding, role, recover=True)`` and
``HarmonyEncoding.recover_messages_from_completion_tokens`` read well-formed
output exactly as the strict parser does. Where the strict rules fail, the
rules of ``grammar/recovery.json`` decide, and each change is reported as a
:class:`~harmony_grammar.format.diagnostics.Diagnostic` with an R code from
``grammar/checks.json``. Every token ends up in a message's span or in the
span of a diagnostic that says it was dropped::

    >>> from harmony_grammar import load_harmony_encoding
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> tokens = enc.encode("<|channel|>final<|message|>Hi<|end|><|return|>", allowed_special="all")
    >>> found = enc.recover_messages_from_completion_tokens(tokens, "assistant")
    >>> [m.content[0].text for m in found.messages], found.spans, [d.code for d in found.diagnostics]
    (['Hi'], [(0, 5)], ['R001'])
    >>> found.diagnostics[0].span
    (5, 6)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from harmony_grammar.engine.parse import header_message
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.content import ContentDecoder
from harmony_grammar.format.diagnostics import Diagnostic, diagnostic
from harmony_grammar.format.header import Note, ParsedHeader
from harmony_grammar.format.tokens import MAX_TOKEN_ID, as_token_id
from harmony_grammar.model import Message
from harmony_grammar.resources import load_json

if TYPE_CHECKING:
    from harmony_grammar.engine.parse import Parser

__all__ = ["Recovery", "RecoveryPolicy", "RecoveringParser", "strict_reading_stands"]


@dataclass
class Recovery:
    """What recovery read: the messages, each one's half-open token span, and what was changed or dropped."""

    messages: list[Message] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def dropped(self) -> list[tuple[int, int]]:
        """The spans of tokens placed in no message."""
        return [d.span for d in self.diagnostics if d.span is not None]


@dataclass(frozen=True)
class RecoveryPolicy:
    """``grammar/recovery.json``: the default role, the channels a headless header may start with, rule -> code."""

    default_role: str
    headless_channels: frozenset[str]
    codes: dict[str, str]
    examples: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls) -> "RecoveryPolicy":
        raw = load_json("grammar", "recovery.json")
        try:
            return cls(raw["default_role"], frozenset(raw["headless_channels"]),
                       {name: rule["code"] for name, rule in raw["rules"].items()}, tuple(raw["examples"]))
        except (KeyError, TypeError) as exc:
            raise HarmonyError(f"grammar/recovery.json is malformed: {exc!r}") from None


_policy: Optional[RecoveryPolicy] = None
_lock = threading.Lock()


def policy() -> RecoveryPolicy:
    """The recovery policy, loaded once."""
    global _policy
    if _policy is None:
        with _lock:
            if _policy is None:
                _policy = RecoveryPolicy.load()
    return _policy


def _describe(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def strict_reading_stands(messages: list[Message], structure: tuple[str, ...], constrain: str) -> bool:
    """Whether the strict parser's messages are also recovery's: no header field holds a ``<|start|>`` or
    stop token's text (read into it from a token inside the header) or starts with ``<|constrain|>`` as the
    recipient. Text that merely spells them only costs the slower, token-by-token reading, which agrees."""
    for m in messages:
        if m.recipient is not None and m.recipient.startswith(constrain):
            return False
        for value in (m.recipient, m.content_type, m.author.name):
            if value is not None and any(s in value for s in structure):
                return False
    return True


class RecoveringParser:
    """The recovering half of :class:`~harmony_grammar.engine.stream.StreamableParser` (``recover=True``).

    The strict half's state (tokens, header tokens, decoder, messages) is shared; these methods
    replace ``process`` and ``process_eos`` and never raise on integers.
    """

    # Set by StreamableParser: its states and its state.
    _EXPECT: Any
    _HEADER: Any
    _CONTENT: Any
    _parser: "Parser"
    _tokens: list[int]
    _messages: list[Message]
    _header_tokens: list[int]
    _stop: frozenset[int]
    _message_id: int
    _next_role: Optional[str]

    def _init_recovery(self, role: Optional[str]) -> None:
        self._policy = policy()
        self._in_content = self._CONTENT
        self._start_id = self._parser.tokenizer.special_id("<|start|>")
        self._role = role or self._policy.default_role
        self._spans: list[tuple[int, int]] = []
        self._diagnostics: list[Diagnostic] = []
        self._eager = False
        self._headless = False
        self._msg_begin = 0
        self._hdr_begin = 0
        self.process = self._recover_process  # type: ignore[method-assign]
        self.process_eos = self._recover_eos  # type: ignore[method-assign]

    # -- reporting ------------------------------------------------------------

    def _note(self, rule: str, token: int, span: Optional[tuple[int, int]] = None, **fields: Any) -> None:
        self._diagnostics.append(diagnostic(self._policy.codes[rule], token=token, span=span, **fields))

    def _text(self, start: int, end: int) -> str:
        data = b"".join(self._token_bytes(t) for t in self._tokens[start:end])
        return data.decode("utf-8", "replace")

    def _token_bytes(self, token: int) -> bytes:
        table = self._parser.tokenizer.token_bytes
        return table[token] if token < len(table) else b"\xef\xbf\xbd"

    def _drop(self, rule: str, start: int, end: int, **fields: Any) -> None:
        self._note(rule, start, (start, end), **fields)

    # -- tokens ---------------------------------------------------------------

    def _recover_process(self, token: int) -> "RecoveringParser":
        tokens = self._tokens
        if type(token) is int and 0 <= token <= MAX_TOKEN_ID and self._state is self._in_content:  # type: ignore[has-type]
            tokens.append(token)  # the common case, as fast as the strict parser's
            if token in self._stop:
                self._last_delta = None
                self._close(len(tokens))
            else:
                self._last_delta = self._decoder.feed(token)  # type: ignore[has-type]
            return self
        index = len(tokens)
        if type(token) is not int or not 0 <= token <= MAX_TOKEN_ID:
            try:
                token = as_token_id(token, index)
            except HarmonyError:
                if not hasattr(token, "__index__"):
                    raise  # not an integer at all: refused, as the strict parser refuses it
                self._note("invalid_token_id", index, found=token.__index__())
                token = MAX_TOKEN_ID
        self._tokens.append(token)
        self._last_delta = None
        self._step(token, index)
        return self

    def _step(self, token: int, index: int) -> None:
        state = self._state  # type: ignore[has-type]
        if state is self._CONTENT:
            if token in self._stop:
                self._close(index + 1)
            else:
                self._last_delta = self._decoder.feed(token)  # type: ignore[has-type]
            return
        if state is self._HEADER:
            if token == self._message_id:
                self._header_done(index)
            elif (self._headless or self._eager) and (token in self._stop or token == self._start_id):
                self._split(index)
            else:
                self._header_tokens.append(token)
            return
        if token == self._start_id:
            self._open_header(index, index + 1, headless=False)
        elif token in self._stop:
            self._drop("stop_between_messages", index, index + 1, found=self._text(index, index + 1))
        else:
            self._open_header(index, index, headless=True)
            self._step(token, index)

    def _open_header(self, begin: int, header_begin: int, *, headless: bool) -> None:
        self._state = self._HEADER
        self._headless = headless
        self._msg_begin = begin
        self._hdr_begin = header_begin
        self._header_tokens = []

    # -- headers --------------------------------------------------------------

    def _first_break(self, start: int, end: int) -> Optional[int]:
        """The first <|start|> or stop token in tokens[start:end]."""
        for i in range(start, end):
            t = self._tokens[i]
            if t == self._start_id or t in self._stop:
                return i
        return None

    def _header_done(self, index: int) -> None:
        """<|message|> at ``index`` ends the header: read it strictly if it can be, else recover."""
        if not self._headless:
            # A <|start|> or stop token inside a header ends it there, even where the strict rules
            # would read it into the recipient (no model means "to=x<|end|>").
            cut = None if self._eager else self._first_break(self._hdr_begin, index)
            if cut is not None:
                self._replay_from(cut, index + 1)
                return
            parsed = self._strict_header(self._hdr_begin, index)
            if parsed is not None:
                self._open_content(parsed[0], parsed[1], index)
                return
        parsed_header, notes = self._recover_header(self._hdr_begin, index)
        self._open_content(parsed_header, notes, index)

    def _strict_header(self, start: int, end: int) -> Optional[tuple[ParsedHeader, list[Note]]]:
        try:
            parsed = self._parser.read_header(self._tokens, start, end, self._next_role)
        except HarmonyError:
            return None
        return self._parser.header.constrain_misread(parsed)

    def _recover_header(self, start: int, end: int) -> tuple[ParsedHeader, list[Note]]:
        text = self._text(start, end)
        notes: list[Note] = []
        try:
            self._parser.header_text(self._tokens, start, end)
        except HarmonyError:
            notes.append(("header_not_utf8", {}))
            text = text.replace("\ufffd", "")  # what cannot be decoded says nothing about the header
        given = self._next_role is not None
        parsed, more = self._parser.header.recover(text, self._next_role or self._role, given=given,
                                                   headless=self._headless,
                                                   channels=self._policy.headless_channels)
        if self._headless:
            notes.insert(0, ("header_without_start", {"role": parsed.role}))
        return parsed, notes + more

    def _replay_from(self, cut: int, end: int) -> None:
        """The header holds a <|start|> or a stop token at ``cut``: settle it there, then read tokens[cut+1:end] again."""
        self._split(cut)
        eager, self._eager = self._eager, True
        try:
            for i in range(cut + 1, end):
                self._step(self._tokens[i], i)
        finally:
            self._eager = eager

    def _split(self, index: int) -> None:
        """A <|start|> or stop token at ``index`` ends the open header before any <|message|>."""
        token = self._tokens[index]
        begin, start = self._msg_begin, self._hdr_begin
        is_start = token == self._start_id
        if self._headless:
            until = "<|start|>" if is_start else "the next stop token"
            end = index if is_start else index + 1
            self._drop("no_message", begin, end, found=_describe(self._text(begin, end)), until=until)
        elif is_start:
            if begin == index:
                # The completion repeats the prompt's <|start|>: drop it, and the given role stays.
                self._drop("extra_start", index, index + 1)
                self._msg_begin = self._hdr_begin = index + 1
                self._header_tokens = []
                return
            if all(t == self._start_id for t in self._tokens[start:index]):
                self._drop("extra_start", begin, index)
            else:
                self._drop("no_message", begin, index, found=_describe(self._text(begin, index)), until="<|start|>")
        else:
            self._empty_message(index + 1, "stop_in_header", found=self._text(index, index + 1))
        self._between()
        if is_start:
            self._next_role = None
            self._open_header(index, index + 1, headless=False)

    def _empty_message(self, end: int, rule: str, **fields: Any) -> None:
        """A message whose header was cut off: its fields, no content; it spans the message's tokens up to ``end``."""
        header_end = end - 1 if rule == "stop_in_header" else end
        parsed = self._strict_header(self._hdr_begin, header_end)
        parsed_header, notes = parsed if parsed is not None else self._recover_header(self._hdr_begin, header_end)
        self._report(notes)
        self._note(rule, self._msg_begin, **fields)
        self._messages.append(header_message(parsed_header, ""))
        self._spans.append((self._msg_begin, end))
        self._next_role = None

    def _report(self, notes: list[Note]) -> None:
        for rule, fields in notes:
            self._note(rule, self._msg_begin, **fields)

    # -- content --------------------------------------------------------------

    def _open_content(self, parsed: ParsedHeader, notes: list[Note], index: int) -> None:
        self._report(notes)
        self._header = parsed
        self._next_role = None
        self._state = self._CONTENT
        self._decoder = ContentDecoder(self._parser.tokenizer)
        self._content_tokens = []
        self._encoded_pieces = 0
        self._in_text = False

    def _close(self, end: int) -> None:
        # What the decoder held back (a cut UTF-8 sequence, or U+FFFD after an id outside the
        # vocabulary) comes as the closing token's delta, so the deltas add up to the content.
        decoder = self._decoder  # type: ignore[has-type]
        held = decoder.finish()[len(decoder.text()):]
        self._spans.append((self._msg_begin, end))
        self._end_message()  # type: ignore[attr-defined]
        self._last_delta = held or None

    def _between(self) -> None:
        self._state = self._EXPECT
        self._header_tokens = []
        self._headless = False

    # -- the end ----------------------------------------------------------------

    def _recover_eos(self) -> "RecoveringParser":
        end = len(self._tokens)
        self._last_delta = None
        if self._state is self._CONTENT:
            self._close(end)
        elif self._state is self._HEADER:
            if not self._headless and not self._eager:
                cut = self._first_break(self._hdr_begin, end)
                if cut is not None:
                    self._replay_from(cut, end)
                    return self._recover_eos()
            if self._headless:
                self._drop("no_message", self._msg_begin, end, found=_describe(self._text(self._msg_begin, end)),
                           until="the end of the input")
            elif self._hdr_begin == end and self._next_role is None:
                self._drop("no_message", self._msg_begin, end, found=_describe(self._text(self._msg_begin, end)),
                           until="the end of the input")
            elif self._hdr_begin < end:
                self._empty_message(end, "end_in_header")
            self._between()
        return self

    # -- results ----------------------------------------------------------------

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """What recovery changed or dropped so far, in order."""
        return list(self._diagnostics)

    @property
    def diagnostic_count(self) -> int:
        """How many diagnostics there are so far (cheaper than ``len(diagnostics)``, which copies them)."""
        return len(self._diagnostics)

    def diagnostics_from(self, start: int) -> list[Diagnostic]:
        """The diagnostics from index ``start`` on."""
        return self._diagnostics[start:]

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The half-open token span of each complete message."""
        return list(self._spans)

    def recovery(self) -> Recovery:
        """Messages, spans and diagnostics so far, as one :class:`Recovery`."""
        return Recovery(self.messages, self.spans, self.diagnostics)  # type: ignore[attr-defined]
