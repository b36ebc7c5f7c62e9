"""Transcript validation: every problem in a harmony transcript, with where and why.

A transcript is text with special tokens written literally (as
``harmony-grammar render`` prints it) or a list of token ids. The grammar checks
the syntax and recovers after a broken message; each message the grammar
completes is then checked against what the transcript itself declares (its
system message's channels, its developer message's functions). Codes,
severities and wording live in ``grammar/checks.json``::

    >>> for d in validate("<|start|>user<|message|>Hi<|end|>\\n<|start|>assistant<|end|>"):
    ...     print(d.format())
    <text>:1:34: warning: whitespace between messages ('\\n'); the model never sees it, remove it [S003]
    <text>:2:19: error: expected <|message|> after the header, found <|end|> [H002]
"""

from __future__ import annotations

import bisect
import contextvars
import json
import math
import re
import threading
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from harmony_grammar.format.diagnostics import Diagnostic, diagnostic
from harmony_grammar.tools.declarations import Declarations, read_declarations
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.header import HeaderError, HeaderRules, ParsedHeader
from harmony_grammar.model import Role
from harmony_grammar.format.grammar import compile_lark
from harmony_grammar.resources import load_json

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["Diagnostic", "validate", "validate_file", "CHECKS"]

_SYSTEM, _DEVELOPER, _ASSISTANT, _TOOL = Role.SYSTEM.value, Role.DEVELOPER.value, Role.ASSISTANT.value, Role.TOOL.value
_SPECIAL_SPELLING = re.compile(r"<\|[A-Za-z0-9_]+\|>")
_TOKEN_LIST = re.compile(r"\s*\d+(?:\s+\d+)*\s*")
_AT_END = "the end of the input (the message starting here has no <|message|>)"


class _Checks:
    """``grammar/checks.json``, compiled."""

    def __init__(self) -> None:
        raw = load_json("grammar", "checks.json")
        self.channels_line = re.compile(raw["system"]["channels_line"], re.MULTILINE)
        self.channel_separator: str = raw["system"]["channel_separator"]
        self.developer: dict[str, str] = raw["developer"]
        self.functions: str = raw["developer"]["functions_namespace"]
        self.json_types = set(raw["json_content_types"])


_checks: Optional[_Checks] = None
_lock = threading.Lock()
_run: contextvars.ContextVar["_Run"] = contextvars.ContextVar("harmony_grammar_validation")


def CHECKS() -> _Checks:
    """The compiled check table (loaded once)."""
    global _checks
    if _checks is None:
        with _lock:
            if _checks is None:
                _checks = _Checks()
    return _checks


# -- sources ------------------------------------------------------------------------


class _TextSource:
    """A transcript written as text with literal special tokens; positions are character offsets."""

    def __init__(self, text: str, terminal_of_text: dict[str, str], specials: dict[str, int]) -> None:
        self.raw = text
        self._terminal_of = terminal_of_text
        self._specials = specials
        self._newlines: Optional[list[int]] = None

    def terminals(self) -> Iterator[Token]:
        text, specials, terminal_of = self.raw, self._specials, self._terminal_of
        prev = 0
        for m in _SPECIAL_SPELLING.finditer(text):
            spelled = m.group()
            if spelled not in specials:
                continue
            if m.start() > prev:
                yield Token("TEXT", "", start_pos=prev, end_pos=m.start())
            yield Token(terminal_of.get(spelled, "SPECIAL"), spelled, start_pos=m.start(), end_pos=m.end())
            prev = m.end()
        if prev < len(text):
            yield Token("TEXT", "", start_pos=prev, end_pos=len(text))

    def text(self, start: int, end: int) -> str:
        return self.raw[start:end]

    def header_text(self, start: int, end: int) -> Optional[str]:
        return self.raw[start:end]

    def where(self, pos: int) -> dict[str, int]:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.raw)]
        line = bisect.bisect_left(self._newlines, pos)
        line_start = self._newlines[line - 1] + 1 if line else 0
        return {"line": line + 1, "column": pos - line_start + 1}

    def end(self) -> int:
        return len(self.raw)


class _TokenSource:
    """A transcript given as token ids; positions are token indices."""

    def __init__(self, ids: list[int], encoding: "HarmonyEncoding") -> None:
        self.ids = ids
        self._grammar = encoding.parser.grammar
        self._tokenizer = encoding.tokenizer

    def terminals(self) -> Iterator[Token]:
        return iter(self._grammar.terminals(self.ids))

    def _bytes(self, start: int, end: int) -> bytes:
        n = self._tokenizer.n_vocab
        return self._tokenizer.decode_bytes([t for t in self.ids[start:end] if t < n])

    def text(self, start: int, end: int) -> str:
        return self._bytes(start, end).decode("utf-8", "replace")

    def header_text(self, start: int, end: int) -> Optional[str]:
        if any(t >= self._tokenizer.n_vocab for t in self.ids[start:end]):
            return None
        try:
            return self._bytes(start, end).decode("utf-8")
        except UnicodeDecodeError:
            return None

    def where(self, pos: int) -> dict[str, int]:
        return {"token": pos}

    def end(self) -> int:
        return len(self.ids)


# -- the grammar, with callbacks ------------------------------------------------------


class _Callbacks(Transformer):  # type: ignore[type-arg]
    """Called by the LALR parser as it completes each rule; hands messages to the current run."""

    def header_t(self, children: list[Token]) -> list[Token]:
        return children

    def content(self, children: list[Token]) -> list[Token]:
        return children

    def stop(self, children: list[Token]) -> Token:
        return children[0]

    def message_t(self, c: list[Any]) -> None:
        _run.get().message(c[0], c[1], c[2], c[3], c[4], first=False)

    def partial_t(self, c: list[Any]) -> None:
        _run.get().message(c[0], c[1], c[2], c[3], None, first=False)

    def broken(self, c: list[Any]) -> None:
        _run.get().broken(c[0], c[1], c[2])

    def first_t(self, c: list[Any]) -> None:
        _run.get().message(None, c[0], c[1], c[2], c[3], first=True)

    def first_partial_t(self, c: list[Any]) -> None:
        _run.get().message(None, c[0], c[1], c[2], None, first=True)

    def first_broken(self, c: list[Any]) -> None:
        _run.get().broken(None, c[0], c[1])

    def prompt(self, c: list[Any]) -> None:
        _run.get().prompt(c[0], c[1])


def _parser() -> Lark:
    """The message grammar compiled with validation callbacks (tolerant start symbols)."""
    return compile_lark("harmony.lark", ["transcript", "completion_tolerant"], transformer=_Callbacks())


# -- one validation run ---------------------------------------------------------------


class _Run:
    def __init__(self, source: Any, encoding: "HarmonyEncoding", role: Optional[str], path: Optional[str]) -> None:
        self.source = source
        self.encoding = encoding
        self.header: HeaderRules = encoding.parser.header
        self.checks = CHECKS()
        self.role = role
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.valid_channels: Optional[list[str]] = None
        self.channel_required = False
        self.declarations = Declarations()
        self.called: set[str] = set()
        self.pending_return: Optional[int] = None
        self.last_start: Optional[int] = None
        self.messages = 0
        self.saw_developer = False

    def report(self, code: str, pos: int, **fields: Any) -> None:
        self.diagnostics.append(diagnostic(code, path=self.path, **self.source.where(pos), **fields))

    def place(self, pos: int) -> str:
        """A position as a message quotes it: ``LINE:COLUMN`` for text, ``token N`` for token ids."""
        where = self.source.where(pos)
        return f"{where['line']}:{where['column']}" if "line" in where else f"token {where['token']}"

    def describe(self, tok: Token) -> str:
        if tok.type == "TEXT":
            snippet = self.source.text(tok.start_pos, min(tok.end_pos, tok.start_pos + 40))
            return "text " + repr(snippet + ("..." if tok.end_pos - tok.start_pos > 40 else ""))
        if tok.type == "$END":
            return "the end of the input"
        return str(tok.value) or tok.type

    # -- called by the grammar ------------------------------------------------------

    def broken(self, start: Optional[Token], header: list[Token], stop: Token) -> None:
        self._before_message()
        self.messages += 1
        if not self._start_inside(header, "H005"):
            self.report("H002", stop.start_pos, found=self.describe(stop))

    def _start_inside(self, header: list[Token], code: str) -> bool:
        """Report a <|start|> inside a header; True if there was one."""
        inner = next((t for t in header if t.type == "START"), None)
        if inner is not None:
            self.report(code, inner.start_pos, role=self.role or "ROLE")
        return inner is not None

    def prompt(self, start: Token, header: list[Token]) -> None:
        """A last ``<|start|>ROLE`` waiting for the model: its header must read and hold the role alone.

        ``render_conversation_for_completion`` leaves exactly ``<|start|>ROLE``; anything more (a channel,
        a recipient, a content type) is a header cut off before its ``<|message|>``.
        """
        self._before_message()
        if self._start_inside(header, "H005"):
            return
        h_start = header[0].start_pos if header else start.end_pos
        h_end = header[-1].end_pos if header else h_start
        parsed = self._header(h_start, h_end, None)
        if parsed is None:
            return
        word = self.source.header_text(h_start, h_end) or ""
        if h_end == self.source.end() and word.endswith("\n") and isinstance(self.source, _TextSource):
            word = word[:-1]  # one newline at the end of a text file is not part of the transcript
        if word not in (parsed.role, parsed.name):
            self.report("H002", start.start_pos, found=_AT_END)

    def message(self, start: Optional[Token], header: list[Token], msg: Token, content: list[Token],
                stop: Optional[Token], first: bool) -> None:
        self._before_message()
        self.messages += 1
        if stop is None and start is not None and self.role is None:
            # The input ends inside the last message's content. A completion (role given) is model
            # output, which may be cut off mid-message (the reference's own test data is), so only
            # a transcript must end every message.
            self.report("E005", start.start_pos, where=self.place(start.start_pos))
        h_start = header[0].start_pos if header else msg.start_pos
        if self._start_inside(header, "H005"):
            return
        inner = next((t for t in content if t.type == "START"), None)
        if inner is not None:
            opened = start.start_pos if start is not None else 0
            self.report("E004", inner.start_pos, where=self.place(opened))
        parsed = self._header(h_start, msg.start_pos, self.role if first else None)
        if parsed is None:
            return
        c_start = content[0].start_pos if content else msg.end_pos
        c_end = content[-1].end_pos if content else msg.end_pos
        text = self.source.text(c_start, c_end)
        self._check_message(parsed, text, h_start, c_start, stop)

    # -- checks -----------------------------------------------------------------------

    def _before_message(self) -> None:
        if self.pending_return is not None:
            # In a transcript <|return|> must be last; a completion (role given) is model output, where
            # the reference's own test data has it mid-way, so it is only a warning there.
            self.report("E001" if self.role is None else "E003", self.pending_return)
            self.pending_return = None

    def _header(self, start: int, end: int, role: Optional[str]) -> Optional[ParsedHeader]:
        text = self.source.header_text(start, end)
        if text is None:
            self.report("H004", start)
            return None
        try:
            parsed = self.header.interpret(text, role, tool_names=self.tool_names())
        except HeaderError as exc:
            problem = str(exc)
            if problem.startswith("Unknown role: "):
                self.report("H001", start, role=problem[len("Unknown role: "):])
            else:
                self.report("H003", start, problem=problem)
            return None
        if parsed.remaining is not None:
            self.report("H003", start, problem=f"unexpected words in the header: {parsed.remaining!r} "
                                               "(a header holds a role, a recipient, a channel and a content type)")
            return None
        return parsed

    def tool_names(self) -> set[str]:
        """Names that may author a tool result: every tool called so far, and every declared one."""
        names = set(self.called)
        for namespace, tools in self.declarations.tools.items():
            names.add(namespace)
            names.update(f"{namespace}.{tool}" for tool in tools)
        return names

    def _check_message(self, h: ParsedHeader, text: str, h_start: int, c_start: int, stop: Optional[Token]) -> None:
        checks = self.checks
        if h.role == _SYSTEM:
            m = checks.channels_line.search(text)
            if m:
                self.valid_channels = [c for c in m.group("channels").split(checks.channel_separator) if c]
                self.channel_required = m.group("required") is not None
        if h.role in (_SYSTEM, _DEVELOPER):
            self.declarations.merge(read_declarations(text, checks.developer))
            self.saw_developer = self.saw_developer or h.role == _DEVELOPER
        if self.valid_channels is not None:
            valid = ", ".join(self.valid_channels)
            if h.channel is not None and h.channel not in self.valid_channels:
                self.report("C001", h_start, channel=h.channel, valid=valid)
            elif h.channel is None and h.role == _ASSISTANT and self.channel_required:
                self.report("C002", h_start, valid=valid)
        recipient = h.recipient
        prefix = checks.functions + "."
        # A completion (or any transcript without a developer message) declares no functions: nothing to check.
        if recipient is not None and recipient.startswith(prefix) and self.saw_developer:
            name = recipient[len(prefix):]
            if not self.declarations.has(checks.functions, name):
                self.report("F001", h_start, recipient=recipient, name=name)
        if h.content_type is not None and (h.content_type in checks.json_types):
            self._check_json(h, text, c_start)
        if stop is not None:
            if stop.type == "CALL" and recipient is None:
                self.report("E002", stop.start_pos)
            if stop.type == "RETURN":
                self.pending_return = stop.start_pos
        if h.role == _TOOL and h.name is not None and h.name not in self.called:
            self.report("T001", h_start, name=h.name)
        if h.role == _ASSISTANT and recipient is not None:
            self.called.add(recipient)

    def _check_json(self, h: ParsedHeader, text: str, c_start: int) -> None:
        try:
            value = json.loads(text, parse_constant=_not_json, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            pos = c_start + exc.pos if isinstance(self.source, _TextSource) else c_start
            self.report("J001", pos, problem=f"{exc.msg} at line {exc.lineno} column {exc.colno} of the content")
            return
        recipient = h.recipient
        if recipient is None or "." not in recipient:
            return
        namespace, name = recipient.split(".", 1)
        schema = self.declarations.schema(namespace, name)
        if schema is None:
            return
        try:
            import jsonschema
        except ImportError:  # the optional extra is not installed: skip the schema check
            return
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
            self.report("J002", c_start, recipient=recipient, problem=f"{where}: {first.message}")

    # -- driving the grammar ------------------------------------------------------------

    def run(self) -> list[Diagnostic]:
        lark = _parser()
        start = "completion_tolerant" if self.role is not None else "transcript"
        parser = lark.parse_interactive(start=start)
        terminals = self.source.terminals()
        context = _run.set(self)
        try:
            for tok in terminals:
                if tok.type == "START":
                    self.last_start = tok.start_pos
                try:
                    parser.feed_token(tok)
                except UnexpectedInput:
                    self._recover(tok, terminals, parser)
            try:
                parser.feed_eof()
            except UnexpectedInput:
                where = self.last_start if self.last_start is not None else 0
                self.report("H002", where, found=_AT_END)
        finally:
            _run.reset(context)
        return self.diagnostics

    def _recover(self, bad: Token, terminals: Iterator[Token], parser: Any) -> None:
        """Between messages only <|start|> may come: report, then skip to the next <|start|>."""
        if bad.type == "TEXT":
            chunk = self.source.text(bad.start_pos, bad.end_pos)
            if not chunk.strip():
                if not (bad.end_pos == self.source.end() and chunk == "\n" and isinstance(self.source, _TextSource)):
                    self.report("S003", bad.start_pos, found=repr(chunk))
                return
        for tok in terminals:
            if tok.type == "START":
                self.report("S001", bad.start_pos, found=self.describe(bad))
                self.last_start = tok.start_pos
                parser.feed_token(tok)
                return
        if bad.type == "TEXT" and self.last_start is not None:
            chunk = self.source.text(bad.start_pos, bad.end_pos)
            lead = len(chunk) - len(chunk.lstrip()) if isinstance(self.source, _TextSource) else 0
            rest = chunk.strip()
            self.report("S002", bad.start_pos + lead, found=repr(rest[:40] + ("..." if len(rest) > 40 else "")))
        else:
            self.report("S001", bad.start_pos, found=self.describe(bad))


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise json.JSONDecodeError(f"{text} is out of range for a JSON number", text, 0)
    return value


def validate(
    transcript: str | Sequence[int],
    *,
    role: Optional[Role | str] = None,
    encoding: Optional["HarmonyEncoding"] = None,
    path: Optional[str] = None,
) -> list[Diagnostic]:
    """Check a transcript and return every problem found, in order of position.

    ``transcript`` is text with literal special tokens, or a sequence of token ids.
    ``role`` says the transcript is a completion that starts after ``<|start|>ROLE``.
    """
    from harmony_grammar.engine.encoding import load_harmony_encoding

    enc = encoding or load_harmony_encoding("HarmonyGptOss")
    role_name = None if role is None else Role(role).value
    if isinstance(transcript, str):
        tok = enc.tokenizer
        source: Any = _TextSource(transcript, {t.text: t.terminal for t in tok.table.named if t.terminal},
                                  tok.special_tokens)
    else:
        from harmony_grammar.engine.parse import check_token_ids

        source = _TokenSource(check_token_ids(transcript), enc)
    diagnostics = _Run(source, enc, role_name, path).run()
    key = (lambda d: (d.line or 0, d.column or 0)) if isinstance(source, _TextSource) else (lambda d: d.token or 0)
    return sorted(diagnostics, key=key)


def validate_file(path: str, *, role: Optional[Role | str] = None,
                  encoding: Optional["HarmonyEncoding"] = None, data: Optional[bytes] = None) -> list[Diagnostic]:
    """Validate a file: ``.json`` holds a list of token ids, anything else is text. ``-`` reads stdin.

    Unreadable or malformed files raise ``HarmonyError`` naming the path.
    """
    import sys

    if data is None:
        try:
            data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
        except OSError as exc:
            raise HarmonyError(f"{path}: cannot read: {exc.strerror}") from None
    label = "<stdin>" if path == "-" else path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarmonyError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    if _TOKEN_LIST.fullmatch(text):
        # A plain list of token ids, whitespace-separated (as the reference's test data keeps them).
        return validate([int(t) for t in text.split()], role=role, encoding=encoding, path=label)
    if path.endswith(".json") or (path == "-" and text.lstrip().startswith("[")):
        try:
            ids = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HarmonyError(f"{label}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise HarmonyError(f"{label}: JSON is nested too deeply") from None
        if not isinstance(ids, list):
            raise HarmonyError(f"{label}: expected a JSON list of token ids, found {type(ids).__name__}")
        return validate(ids, role=role, encoding=encoding, path=label)
    return validate(text, role=role, encoding=encoding, path=label)
