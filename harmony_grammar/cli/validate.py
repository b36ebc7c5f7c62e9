"""``harmony-grammar validate``: check transcripts and report every problem, one line each or as JSON."""

from __future__ import annotations

import argparse
import json
import re
import sys

from harmony_grammar.cli.io import (
    InputError,
    add_encoding_arguments,
    add_role_argument,
    decode_text,
    load_encoding,
    read_bytes,
)
from harmony_grammar.errors import HarmonyError
from harmony_grammar.tools.validate import Diagnostic, validate_file

__all__ = ["add_validate_arguments", "run_validate"]

FORMATS = ("text", "json")


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``validate``."""
    add_encoding_arguments(parser)
    parser.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="a transcript: text with special tokens written literally (as render prints it), a .json "
             "file holding a list of token ids, or a file of whitespace-separated token ids; '-' reads stdin",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="text",
        help="text: one line per problem, PATH:LINE:COLUMN: SEVERITY: MESSAGE [CODE] (PATH:token N: for "
             "token ids), and a summary on stderr; json: a JSON list of diagnostics (default: %(default)s)",
    )
    add_role_argument(parser, "the files are completions: model output that starts after <|start|>ROLE")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _located(where: str, exc: HarmonyError) -> InputError:
    """validate_file's message (``PATH: problem`` or ``PATH:L:C: problem``) as an ``InputError``."""
    message = str(exc)
    if message.startswith(where + ":"):
        rest = message[len(where) + 1:]
        m = re.match(r"(\d+:\d+): (.*)", rest, re.S)
        if m:
            return InputError(f"{where}:{m.group(1)}", m.group(2))
        return InputError(where, rest.lstrip())
    return InputError(where, message)


def run_validate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate transcripts; every readable file is checked before the status is decided."""
    enc = load_encoding(args)
    found: list[Diagnostic] = []
    unreadable = 0
    for path in args.paths:
        try:
            data, where = read_bytes(path)
            decode_text(data, where)
            try:
                diagnostics = validate_file(path, role=args.role, encoding=enc, data=data)
            except HarmonyError as exc:
                raise _located(where, exc) from None
            except RecursionError:  # json.loads on a deeply nested list
                raise InputError(where, "JSON is nested too deeply") from None
        except InputError as exc:
            unreadable += 1
            sys.stderr.write(f"{exc}\n")
            continue
        found.extend(diagnostics)
        if args.format == "text":
            for diagnostic in diagnostics:
                sys.stdout.write(diagnostic.format() + "\n")
    errors = sum(d.severity == "error" for d in found)
    warnings = sum(d.severity == "warning" for d in found)
    if args.format == "json":
        sys.stdout.write(json.dumps([d.to_dict() for d in found], indent=2, ensure_ascii=False) + "\n")
    else:
        summary = f"{_plural(len(args.paths), 'file')}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        if unreadable:
            summary += f", {unreadable} unreadable"
        sys.stdout.flush()
        sys.stderr.write(summary + "\n")
    if unreadable:
        return 2
    return 1 if errors else 0
