"""Batch parsing: token ids -> grammar tree -> messages.

The grammar decides the structure; the header interpreter reads each header's
text; content is decoded in one call per message.
"""

from __future__ import annotations

import bisect
from typing import Optional, Protocol, Sequence

from lark import Token, Tree

from harmony_grammar.format.content import decode_content
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.grammar import Grammar, flatten
from harmony_grammar.format.header import HeaderError, HeaderRules, ParsedHeader
from harmony_grammar.model import Author, Message, Role, TextContent
from harmony_grammar.format.tokens import MAX_TOKEN_ID, Tokenizer, as_token_ids, utf8_error_text

__all__ = ["Parser", "HasParser", "check_token_ids", "header_message", "rust_debug_str"]

_FIRST = {"first", "first_partial", "first_t", "first_partial_t", "first_broken"}
_BROKEN = {"broken", "first_broken"}


def check_token_ids(tokens: object) -> list[int]:
    """Token ids as a list of ints in 0..2**32-1, or ``HarmonyError`` naming the first bad one."""
    return as_token_ids(tokens, MAX_TOKEN_ID)


# Characters Rust's Debug for str escapes with a backslash.
_RUST_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}
# The others it writes as \u{hex}: those not printable (categories C*, Zl, Zp, Zs) and those that extend
# a grapheme. The pattern uses the regex module's Unicode tables (regex comes with tiktoken): Python's
# unicodedata lags (3.11 has Unicode 14.0). The reference's Rust has Unicode 16.0's, so what 17.0 added
# is unassigned there, and escaped (measured over every code point against oss-harmony 0.0.11):
_ADDED_IN_UNICODE_17 = (
    (0x558, 0x558), (0x58B, 0x58C), (0x208F, 0x208F), (0x209D, 0x209F), (0x20C2, 0x20C4), (0x2E60, 0x2E63),
    (0xA7DD, 0xA7DD), (0xA7E2, 0xA7E2), (0xAB6C, 0xAB6D), (0x107BB, 0x107BF), (0x10EC9, 0x10ECA),
    (0x10ED9, 0x10EEE), (0x11B0A, 0x11B0A), (0x11DF1, 0x11DF1), (0x1246F, 0x1246F), (0x12475, 0x1247F),
    (0x12550, 0x12686), (0x18CD6, 0x18CDA), (0x18D1F, 0x18D20), (0x18E00, 0x19191), (0x191A0, 0x191D2),
    (0x1B123, 0x1B128), (0x1B168, 0x1B168), (0x1CED2, 0x1CED4), (0x1CEDD, 0x1CEDF), (0x1CEF1, 0x1CEFD),
    (0x1D1EB, 0x1D1FF), (0x1D253, 0x1D25A), (0x1D25D, 0x1D25E), (0x1D260, 0x1D27F), (0x1D6A6, 0x1D6A6),
    (0x1DB00, 0x1DB1C), (0x1DF1F, 0x1DF24), (0x1DF2B, 0x1DF81), (0x1DF90, 0x1DF96), (0x1DFCD, 0x1DFFF),
    (0x1F1AE, 0x1F1AE), (0x1F6D9, 0x1F6D9), (0x1F7DA, 0x1F7DB), (0x1F7F1, 0x1F7FF), (0x1FA8B, 0x1FA8D),
    (0x1FACC, 0x1FACC), (0x1FADD, 0x1FADD), (0x1FAEB, 0x1FAEB), (0x1FAF9, 0x1FAFA), (0x2B81E, 0x2B81E),
    (0x3D000, 0x3FC3F),
)
_rust_escaped = None


def _added_in_unicode_17(code: int) -> bool:
    at = bisect.bisect_right(_ADDED_IN_UNICODE_17, (code, 0x10FFFF)) - 1
    return at >= 0 and _ADDED_IN_UNICODE_17[at][0] <= code <= _ADDED_IN_UNICODE_17[at][1]


def rust_debug_str(text: str) -> str:
    r"""``text`` as Rust's ``format!("{:?}", text)`` writes it (the reference quotes header words so)::

        >>> print(rust_debug_str('a"b\\c e\u0301 \xa0\x00 🙂'))
        "a\"b\\c e\u{301} \u{a0}\0 🙂"
    """
    global _rust_escaped
    if _rust_escaped is None:
        import regex

        _rust_escaped = regex.compile(r"[\p{C}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]")
    out = ['"']
    for ch in text:
        escaped = _RUST_ESCAPES.get(ch)
        if escaped is None:
            printable = " " <= ch <= "~" or not (_rust_escaped.match(ch) or _added_in_unicode_17(ord(ch)))
            escaped = ch if printable else f"\\u{{{ord(ch):x}}}"
        out.append(escaped)
    out.append('"')
    return "".join(out)


def header_message(header: ParsedHeader, text: str) -> Message:
    """The message a parsed header and its content text make."""
    return Message(
        author=Author(role=Role(header.role), name=header.name),
        content=[TextContent(text=text)],
        channel=header.channel,
        recipient=header.recipient,
        content_type=header.content_type,
    )


class Parser:
    """Parses completions and transcripts given as token ids."""

    def __init__(self, tokenizer: Tokenizer, grammar: Grammar, header: HeaderRules) -> None:
        self.tokenizer = tokenizer
        self.grammar = grammar
        self.header = header

    def header_text(self, tokens: Sequence[int], start: int, end: int, *, complete: bool = True) -> str:
        """Decode header tokens[start:end] as UTF-8, naming the span if that fails.

        The message starts with the reference's: "could not decode header" for a header that
        reached <|message|> (``complete``), the tokenizer's own error for a tolerant header cut off
        by a stop token.
        """
        data_ids = tokens[start:end]
        if data_ids and max(data_ids) >= self.tokenizer.n_vocab:
            bad = next(i for i, t in enumerate(data_ids) if t >= self.tokenizer.n_vocab)
            ref = ("could not decode header" if complete else
                   f"Could not decode tokens: Invalid token error: Invalid token for decoding: {data_ids[bad]}")
            raise HarmonyError(f"{ref} (token {start + bad}: id {data_ids[bad]} in a message header is not in the "
                               f"vocabulary, which has ids 0..{self.tokenizer.n_vocab - 1})")
        try:
            return self.tokenizer.decode_bytes(data_ids).decode("utf-8")
        except UnicodeDecodeError as exc:
            ref = ("could not decode header" if complete else
                   f"Could not decode tokens: Invalid utf-8 sequence: {utf8_error_text(exc)}")
            raise HarmonyError(f"{ref} (tokens {start}..{end}: the message header is not valid UTF-8; "
                               f"bad byte at offset {exc.start})") from None

    def read_header(self, tokens: Sequence[int], start: int, end: int, role: Optional[str],
                    *, fields: bool = True) -> ParsedHeader:
        """Interpret the header in tokens[start:end], raising ``HarmonyError`` that names the span.

        Messages start with the reference's wording, then name the span and its text, e.g.
        ``Unknown role: robot (message header at tokens 1..2: 'robot')``.
        """
        text = self.header_text(tokens, start, end, complete=fields)
        try:
            parsed = self.header.interpret(text, role, fields=fields)
        except HeaderError as exc:
            raise HeaderError(f"{exc} (message header at tokens {start}..{end}: {text!r})") from None
        if fields and parsed.remaining is not None:
            raise HeaderError(f"unexpected tokens remaining in message header: Some({rust_debug_str(parsed.remaining)}) "
                              f"(message header at tokens {start}..{end}: {text!r})")
        return parsed

    @staticmethod
    def ids(tokens: object) -> list[int]:
        """The token ids the parser accepts (0..2**32-1), as a list."""
        return check_token_ids(tokens)

    def parse(self, tokens: object, role: Optional[Role | str], strict: bool,
              spans: Optional[list[tuple[int, int]]] = None) -> list[Message]:
        """Parse a completion (after ``<|start|>ROLE`` when ``role`` is given) into messages.

        ``spans``, when given, receives each message's half-open token range.
        """
        ids = check_token_ids(tokens)
        role_name = None if role is None else Role(role).value
        tree = self.grammar.parse(ids, self.grammar.start_symbol(role_name is not None, strict))
        messages: list[Message] = []
        for node in tree.children:
            assert isinstance(node, Tree)
            kind = node.data
            given = role_name if kind in _FIRST else None
            header_node = next(c for c in node.children if isinstance(c, Tree) and c.data.startswith("header"))
            span = flatten(header_node.children)
            h_start = span[0].start_pos if span else _after(node)
            h_end = span[-1].end_pos if span else h_start
            if kind in _BROKEN:
                # A tolerant header cut off by a stop token: it becomes a message only when it
                # is the first header of a completion with a given role, and not empty.
                if given is None or not span:
                    continue
                parsed = self.read_header(ids, h_start, h_end, given, fields=False)
                messages.append(header_message(parsed, parsed.remaining or ""))
                continue
            parsed = self.read_header(ids, h_start, h_end, given)
            content_node = next(c for c in node.children if isinstance(c, Tree) and c.data == "content")
            c_span = flatten(content_node.children)
            text = decode_content(self.tokenizer, ids[c_span[0].start_pos:c_span[-1].end_pos]) if c_span else ""
            messages.append(header_message(parsed, text))
            if spans is not None:
                every = flatten(node.children)
                spans.append((0 if kind in _FIRST else every[0].start_pos, every[-1].end_pos))
        return messages


def _after(node: Tree) -> int:
    """Where an empty header sits: right after the node's first token (or at 0 for a completion)."""
    for child in node.children:
        if isinstance(child, Token):
            return child.end_pos if child.type == "START" else child.start_pos
    return 0


class HasParser(Protocol):
    """What the streaming parser and the validator take: an object with a :class:`Parser` (a ``HarmonyEncoding``)."""

    @property
    def parser(self) -> Parser: ...
