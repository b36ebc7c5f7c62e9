"""Batch parsing: token ids -> grammar tree -> messages.

The grammar decides the structure; the header interpreter reads each header's
text; content is decoded in one call per message.
"""

from __future__ import annotations

from typing import Optional, Protocol, Sequence

from lark import Token, Tree

from harmony_grammar.format.content import decode_content
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.grammar import Grammar, flatten
from harmony_grammar.format.header import HeaderError, HeaderRules, ParsedHeader
from harmony_grammar.model import Author, Message, Role, TextContent
from harmony_grammar.format.tokens import MAX_TOKEN_ID, Tokenizer, as_token_ids

__all__ = ["Parser", "HasParser", "check_token_ids", "header_message"]

_FIRST = {"first", "first_partial", "first_t", "first_partial_t", "first_broken"}
_BROKEN = {"broken", "first_broken"}


def check_token_ids(tokens: object) -> list[int]:
    """Token ids as a list of ints in 0..2**32-1, or ``HarmonyError`` naming the first bad one."""
    return as_token_ids(tokens, MAX_TOKEN_ID)


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

    def header_text(self, tokens: Sequence[int], start: int, end: int) -> str:
        """Decode header tokens[start:end] as UTF-8, naming the span if that fails."""
        data_ids = tokens[start:end]
        if data_ids and max(data_ids) >= self.tokenizer.n_vocab:
            bad = next(i for i, t in enumerate(data_ids) if t >= self.tokenizer.n_vocab)
            raise HarmonyError(f"token {start + bad}: id {data_ids[bad]} in a message header is not in the "
                               "vocabulary (could not decode header)")
        try:
            return self.tokenizer.decode_bytes(data_ids).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HarmonyError(f"tokens {start}..{end}: the message header is not valid UTF-8 "
                               f"(could not decode header; bad byte at offset {exc.start})") from None

    def read_header(self, tokens: Sequence[int], start: int, end: int, role: Optional[str],
                    *, fields: bool = True) -> ParsedHeader:
        """Interpret the header in tokens[start:end], raising ``HarmonyError`` that names the span."""
        text = self.header_text(tokens, start, end)
        try:
            parsed = self.header.interpret(text, role, fields=fields)
        except HeaderError as exc:
            raise HeaderError(f"message header at tokens {start}..{end} ({text!r}): {exc}") from None
        if fields and parsed.remaining is not None:
            raise HeaderError(f"message header at tokens {start}..{end} ({text!r}): unexpected tokens "
                              f"remaining in message header: {parsed.remaining!r}")
        return parsed

    @staticmethod
    def ids(tokens: object) -> list[int]:
        """The token ids the parser accepts (0..2**32-1), as a list."""
        return check_token_ids(tokens)

    def parse(self, tokens: object, role: Optional[Role | str], strict: bool) -> list[Message]:
        """Parse a completion (after ``<|start|>ROLE`` when ``role`` is given) into messages."""
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
