"""The message grammar (``grammar/harmony.lark``) bound to the tokenizer bridge.

Token ids become grammar terminals here: each special token its own terminal,
each run of ordinary tokens one ``TEXT``::

    >>> g = load_grammar()
    >>> [(t.type, t.start_pos, t.end_pos) for t in g.terminals([200006, 1428, 200008, 12194, 200007])]
    [('START', 0, 1), ('TEXT', 1, 2), ('MESSAGE', 2, 3), ('TEXT', 3, 4), ('END', 4, 5)]
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import lark
from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from harmony_grammar.errors import HarmonyError
from harmony_grammar.resources import cache_dir, data_dir
from harmony_grammar.format.tokens import MAX_TOKEN_ID, Tokenizer, load_tokenizer

__all__ = ["Grammar", "HarmonySyntaxError", "load_grammar", "compile_lark", "START_SYMBOLS", "MAX_TOKEN_ID"]


class HarmonySyntaxError(HarmonyError):
    """Tokens in an order the grammar does not allow; the message names the index, what was expected and found."""


START_SYMBOLS = ("conversation", "completion", "conversation_tolerant", "completion_tolerant", "transcript")

# How terminals are named in error messages.
_NAMES = {"TEXT": "text", "SPECIAL": "a reserved special token", "$END": "the end of the input"}


_compiled: dict[tuple[Any, ...], Lark] = {}
_compile_lock = threading.Lock()

def _cached_lark(source: str, name: str, options: dict[str, Any]) -> Lark:
    """``Lark(source, **options)``, its tables saved to and loaded from the cache folder with lark's save/load.

    The file name carries a hash of everything the tables depend on (grammar text, options,
    lark and Python versions), and a file is written whole before it is renamed into place,
    so a file that exists is complete and current; one that does not load is compiled again.
    Parsers with a transformer are not kept (lark cannot attach one to saved tables).
    """
    folder = cache_dir("grammar")
    if folder is None or options.get("transformer") is not None:
        return Lark(source, **options)
    key = hashlib.sha256(f"{source}\0{sorted((k, repr(v)) for k, v in options.items())}"
                         f"\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()[:24]
    path = folder / f"{name}-{key}.lark-tables"
    try:
        with path.open("rb") as saved:
            return Lark.load(saved)
    except Exception:  # missing, damaged or from an incompatible lark: compile it and replace the file
        pass
    parser = Lark(source, **options)
    tmp = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}-", suffix=".tmp", delete=False) as out:
            tmp = out.name
            parser.save(out)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return parser


def compile_lark(filename: str, start: Sequence[str], transformer: Optional[Transformer] = None,
                 lexer: str = "basic") -> Lark:
    """An LALR parser for ``grammar/FILENAME``, compiled once per (file, start symbols, callbacks, lexer).

    The parse tables are also kept on disk (see :func:`harmony_grammar.resources.cache_dir`), so a new process loads them
    instead of analysing the grammar again.
    """
    key = (filename, tuple(start), type(transformer), lexer)
    found = _compiled.get(key)
    if found is None:
        with _compile_lock:
            found = _compiled.get(key)
            if found is None:
                path = data_dir("grammar") / filename
                try:
                    source = path.read_text(encoding="utf-8")
                    found = _cached_lark(source, Path(filename).stem, dict(
                        parser="lalr", lexer=lexer, start=list(start), transformer=transformer))
                except OSError as exc:
                    raise HarmonyError(f"cannot read {path}: {exc.strerror}") from None
                except Exception as exc:  # lark.GrammarError and friends
                    raise HarmonyError(f"{path}: invalid grammar: {exc}") from None
                _compiled[key] = found
    return found


class Grammar:
    """The compiled LALR parser and the token-id-to-terminal bridge."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.lark = compile_lark("harmony.lark", START_SYMBOLS)
        self.tokenizer = tokenizer
        self.special_first = min(tokenizer.special_by_id)
        self.special_last = max(tokenizer.special_by_id)
        self.terminal_of = tokenizer.terminal_of
        self.terminal_text = {t.terminal: t.text for t in tokenizer.table.named if t.terminal}

    def start_symbol(self, completion: bool, strict: bool) -> str:
        return ("completion" if completion else "conversation") + ("" if strict else "_tolerant")

    def interactive(self, start: str) -> InteractiveParser:
        """A fresh interactive parser, for feeding terminals one at a time."""
        return self.lark.parse_interactive(start=start)

    def terminal(self, token: int, index: int) -> Token:
        """The terminal for one special token at ``index``."""
        return Token(self.terminal_of.get(token, "SPECIAL"), self.tokenizer.special_by_id[token],
                     start_pos=index, end_pos=index + 1)

    def is_special(self, token: int) -> bool:
        return self.special_first <= token <= self.special_last

    def terminals(self, tokens: Sequence[int]) -> list[Token]:
        """Split token ids into terminals; out-of-vocabulary ids count as text."""
        lo, hi = self.special_first, self.special_last
        specials = [i for i, t in enumerate(tokens) if lo <= t <= hi]
        out: list[Token] = []
        prev = 0
        for i in specials:
            if i > prev:
                out.append(Token("TEXT", "", start_pos=prev, end_pos=i))
            out.append(self.terminal(tokens[i], i))
            prev = i + 1
        if prev < len(tokens):
            out.append(Token("TEXT", "", start_pos=prev, end_pos=len(tokens)))
        return out

    def parse(self, tokens: Sequence[int], start: str) -> Tree:
        """Parse token ids from ``start``; syntax errors raise ``HarmonyError`` naming the token index."""
        parser = self.interactive(start)
        terminal = None
        try:
            for terminal in self.terminals(tokens):
                parser.feed_token(terminal)
            return parser.feed_eof(terminal)
        except UnexpectedInput as exc:
            raise self.syntax_error(exc, tokens) from None

    def check_message_frame(self, header: Sequence[int], end: int) -> None:
        """Raise ``HarmonyError`` unless ``header`` + some content + ``end`` is a message the grammar accepts.

        Tolerant headers are used, so a stop token inside a header is rejected.
        """
        tokens = list(header) + [0, end]
        parser = self.interactive("conversation_tolerant")
        try:
            for terminal in self.terminals(tokens):
                parser.feed_token(terminal)
            parser.feed_eof()
        except UnexpectedInput as exc:
            raise self.syntax_error(exc, tokens) from None

    def describe(self, terminal: str) -> str:
        return self.terminal_text.get(terminal) or _NAMES.get(terminal, terminal)

    def syntax_error(self, exc: UnexpectedInput, tokens: Sequence[int]) -> HarmonySyntaxError:
        """Turn lark's error into one that starts with the reference's wording, then says where,
        what was expected and what was found, e.g.::

            Unexpected token 200008 while expecting start token 200006 (token 5: expected <|start|>, found <|message|>)
            Unexpected EOS while waiting for message header to complete (token 7: expected <|message|>, found the end of the input)
        """
        expected = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
        if "MESSAGE" in expected:
            expected = ["MESSAGE"]  # inside a header, only <|message|> moves on
        elif len(expected) > 1 and "$END" in expected:
            expected.remove("$END")
        want = " or ".join(self.describe(t) for t in expected) or "nothing more"
        token = getattr(exc, "token", None)
        if not isinstance(exc, UnexpectedToken) or token is None or token.type == "$END":
            where = f"token {len(tokens)}: expected {want}, found the end of the input"
            if expected == ["MESSAGE"]:  # the reference's wording for the input ending inside a header
                return HarmonySyntaxError(f"Unexpected EOS while waiting for message header to complete ({where})")
            return HarmonySyntaxError(where)
        index = token.start_pos
        found_id = tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else None
        if token.type == "TEXT":
            outside = found_id is not None and found_id >= self.tokenizer.n_vocab
            found = "an id outside the vocabulary" if outside else "text"
        elif token.type == "SPECIAL":
            found = str(token.value) or self.describe(token.type)  # its spelling, e.g. <|reserved_200013|>
        else:
            found = self.describe(token.type)
        where = f"token {index}: expected {want}, found {found}"
        if expected == ["START"] and found_id is not None:  # between messages: the reference's wording first
            start_id = next(i for i, t in self.terminal_of.items() if t == "START")
            return HarmonySyntaxError(f"Unexpected token {found_id} while expecting start token {start_id} ({where})")
        return HarmonySyntaxError(f"{where} (id {found_id})")


_lock = threading.Lock()
_grammars: dict[int, Grammar] = {}


def load_grammar(tokenizer: Tokenizer | None = None) -> Grammar:
    """The grammar for ``tokenizer`` (default: the process-wide one), compiled once."""
    tok = tokenizer or load_tokenizer()
    found = _grammars.get(id(tok))
    if found is None:
        with _lock:
            found = _grammars.get(id(tok))
            if found is None:
                found = Grammar(tok)
                _grammars[id(tok)] = found
    return found


def flatten(items: Iterable[object]) -> list[Token]:
    """The terminals under a tree node, in order."""
    out: list[Token] = []
    for item in items:
        if isinstance(item, Tree):
            out.extend(flatten(item.children))
        else:
            out.append(item)  # type: ignore[arg-type]
    return out
