"""What the commands share: reading input, reporting bad input and repairs, writing tokens, and the common options."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import replace
from typing import Any, Optional, Sequence, TextIO

from pydantic import ValidationError

from harmony_grammar.engine.encoding import HarmonyEncoding, load_harmony_encoding
from harmony_grammar.engine.parse import check_token_ids
from harmony_grammar.engine.recover import Recovery
from harmony_grammar.errors import HarmonyError
from harmony_grammar.example import example_conversation
from harmony_grammar.format.templating import DEFAULT_DIALECT, dialects
from harmony_grammar.model import Conversation, Role

__all__ = [
    "PROG", "BUILTIN", "STDIN", "COLORS", "ROLES", "InputError",
    "describe_validation_error", "read_bytes", "decode_text", "read_conversation", "read_tokens",
    "TOKEN_FORMS", "read_token_input", "format_tokens", "write_output", "report_recovery",
    "use_color", "colorize", "format_output", "epilog", "add_encoding_arguments", "add_token_input_argument",
    "add_role_argument", "load_encoding",
]

PROG = "harmony-grammar"
BUILTIN = "<built-in example>"
STDIN = "<stdin>"

COLORS = ("auto", "always", "never")
ROLES = tuple(r.value for r in Role)

_SPECIAL_STYLE = "\x1b[1;36m"  # bold cyan
_RESET = "\x1b[0m"


class InputError(Exception):
    """Bad input: reported as ``WHERE: error: MESSAGE`` with exit status 2."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: error: {message}")
        self.where = where
        self.message = message


# -- reading input ---------------------------------------------------------


def describe_validation_error(exc: ValidationError) -> str:
    """One line per pydantic error, ``field.path: message``, without pydantic's help links."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return f"invalid {exc.title}: " + "; ".join(parts)


def read_bytes(path: str) -> tuple[bytes, str]:
    """The bytes of ``path`` (``-`` for stdin) and its display name; unreadable files raise ``InputError``."""
    where = STDIN if path == "-" else path
    try:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            data: bytes | str = stdin.read() if stdin is not None else sys.stdin.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InputError(where, f"cannot read file: {exc.strerror or exc}") from None
    return (data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data), where


def decode_text(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text, or ``InputError`` naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not valid UTF-8 (byte offset {exc.start})") from None


def read_conversation(path: Optional[str]) -> tuple[Conversation, str]:
    """The conversation in ``path`` (``-`` for stdin, None for the built-in example), and its display name."""
    if path is None:
        return example_conversation(), BUILTIN
    data, where = read_bytes(path)
    text = decode_text(data, where)
    try:
        return Conversation.from_json(text), where
    except HarmonyError as exc:
        raise InputError(where, str(exc)) from None
    except ValidationError as exc:
        raise InputError(where, describe_validation_error(exc)) from None
    except RecursionError:
        raise InputError(where, "conversation JSON is nested too deeply") from None


_TOKEN_IDS = re.compile(r"\s*\d+(?:\s+\d+)*\s*")


# The forms token input comes in: a JSON list of ids, whitespace-separated ids, or text.
TOKEN_FORMS = ("json", "ids", "text")


def read_tokens(enc: HarmonyEncoding, path: str) -> tuple[list[int], str]:
    """Token ids from ``path``: a JSON list, whitespace-separated ints, or text with literal special tokens.

    Text is encoded with every special token allowed; one newline at its end (as
    ``render`` prints it) is not part of the transcript.
    """
    tokens, where, _ = read_token_input(enc, path)
    return tokens, where


def read_token_input(enc: HarmonyEncoding, path: str) -> tuple[list[int], str, str]:
    """What ``read_tokens`` reads, and the form it was written in: one of ``TOKEN_FORMS``."""
    data, where = read_bytes(path)
    text = decode_text(data, where)
    if _TOKEN_IDS.fullmatch(text):
        return [int(t) for t in text.split()], where, "ids"
    ids: Any = None
    if path.endswith(".json") or text.lstrip().startswith("["):
        try:
            ids = json.loads(text)
        except json.JSONDecodeError as exc:
            if path.endswith(".json"):
                raise InputError(f"{where}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise InputError(where, "JSON is nested too deeply") from None
        if path.endswith(".json") and not isinstance(ids, list):
            raise InputError(where, f"expected a JSON list of token ids, found {_json_type(ids)}")
    if isinstance(ids, list):
        try:
            return check_token_ids(ids), where, "json"
        except HarmonyError as exc:
            raise InputError(where, str(exc)) from None
    if text.endswith("\n"):
        text = text[:-1]
    return enc.encode(text, allowed_special="all"), where, "text"


def _json_type(value: Any) -> str:
    names = {dict: "an object", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# -- output ----------------------------------------------------------------


def use_color(choice: str, stream: TextIO) -> bool:
    """Colour only when asked, or on a terminal without ``NO_COLOR`` set and with a capable ``TERM``."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def colorize(enc: HarmonyEncoding, tokens: Sequence[int]) -> str:
    """Decode ``tokens`` with each special token (by id, not by spelling) in colour."""
    out: list[str] = []
    run: list[int] = []
    for token in tokens:
        if enc.is_special_token(token):
            if run:
                out.append(enc.decode_utf8(run))
                run = []
            out.append(f"{_SPECIAL_STYLE}{enc.decode_utf8([token])}{_RESET}")
        else:
            run.append(token)
    if run:
        out.append(enc.decode_utf8(run))
    return "".join(out)


def format_output(enc: HarmonyEncoding, tokens: list[int], output: str, color: bool) -> str:
    """The text printed for ``--output``: decoded text, a JSON token list, or both as JSON."""
    if output == "tokens":
        return json.dumps(tokens)
    if output == "json":
        return json.dumps({"tokens": tokens, "text": enc.decode_utf8(tokens)}, ensure_ascii=False)
    return colorize(enc, tokens) if color else enc.decode_utf8(tokens)


def format_tokens(enc: HarmonyEncoding, tokens: Sequence[int], form: str) -> str:
    """``tokens`` written in ``form`` (one of ``TOKEN_FORMS``), ending with a newline, as ``read_tokens`` reads them."""
    if form == "json":
        return json.dumps(list(tokens)) + "\n"
    if form == "ids":
        return " ".join(map(str, tokens)) + "\n"
    return enc.decode_utf8(list(tokens)) + "\n"


def write_output(path: str, text: str) -> None:
    """``text`` to ``path`` (``-`` for stdout), written to a temporary file beside it and renamed into place."""
    if path == "-":
        sys.stdout.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    partial = None
    try:
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(partial, mode)
        os.replace(partial, path)
        partial = None
    except OSError as exc:
        raise InputError(path, f"cannot write file: {exc.strerror or exc}") from None
    finally:
        if partial is not None:
            try:
                os.unlink(partial)
            except OSError:
                pass


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def report_recovery(found: Recovery, where: str) -> None:
    """Recovery's diagnostics on stderr as ``WHERE:token N: warning: MESSAGE [CODE]``, then the line
    ``N messages, M repairs, K tokens dropped``."""
    for d in found.diagnostics:
        sys.stderr.write(replace(d, path=where).format() + "\n")
    dropped = sum(end - start for start, end in found.dropped())
    sys.stderr.write(f"{_count(len(found.messages), 'message')}, {_count(len(found.diagnostics), 'repair')}, "
                     f"{_count(dropped, 'token')} dropped\n")


# -- shared arguments ------------------------------------------------------


def epilog(examples: Sequence[str]) -> str:
    """The ``examples:`` block at the end of a ``--help``."""
    return "examples:\n" + "\n".join(f"  {line}" for line in examples)


def add_encoding_arguments(parser: argparse.ArgumentParser) -> None:
    """--dialect and --templates, for the commands that render or parse."""
    parser.add_argument(
        "--dialect", choices=dialects(), default=DEFAULT_DIALECT,
        help="which reference to match: oss-harmony (0.0.11, the default) or openai-harmony (0.0.8)",
    )
    parser.add_argument(
        "--templates", metavar="DIR", default=None,
        help="a folder of templates that override the dialect's, file by file "
             f"(start from '{PROG} templates export DIR')",
    )


def add_token_input_argument(parser: argparse.ArgumentParser, metavar: str, note: str = "") -> None:
    """The optional positional input of ``parse`` and ``repair``, read with ``read_tokens``; ``note`` ends its help."""
    parser.add_argument(
        "path", nargs="?", default="-", metavar=metavar,
        help="token ids as a JSON list or whitespace-separated, or text with special tokens written "
             "literally; '-' (the default) reads stdin" + note,
    )


def add_role_argument(parser: argparse.ArgumentParser, meaning: str) -> None:
    """--role ROLE, with ``meaning`` (what the option says about the input) and the roles to choose from as help."""
    parser.add_argument("--role", metavar="ROLE", choices=ROLES, default=None,
                        help=f"{meaning} (one of {', '.join(ROLES)})")


def load_encoding(args: argparse.Namespace) -> HarmonyEncoding:
    """The encoding for --dialect and --templates; a bad template folder is an input error."""
    try:
        return load_harmony_encoding("HarmonyGptOss", dialect=args.dialect, template_dir=args.templates)
    except HarmonyError as exc:
        raise InputError(args.templates or args.dialect, str(exc)) from None
