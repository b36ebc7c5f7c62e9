"""``harmony-grammar parse``: token ids or a transcript into messages, printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from enum import Enum
from typing import Any

from harmony_grammar.cli.io import (
    add_encoding_arguments,
    add_role_argument,
    add_token_input_argument,
    load_encoding,
    read_tokens,
    report_recovery,
)
from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import Role

__all__ = ["add_parse_arguments", "run_parse"]


def add_parse_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``parse``."""
    add_encoding_arguments(parser)
    add_token_input_argument(parser, "FILE")
    add_role_argument(parser, "the input is a completion that starts after <|start|>ROLE, as a model writes it")
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument(
        "--lenient", action="store_true",
        help="let a stop token end a header early, as the reference's strict=False does",
    )
    reading.add_argument(
        "--recover", action="store_true",
        help='repair what the strict rules refuse (grammar/recovery.json) and print {"messages": [...], '
             '"spans": [...], "diagnostics": [...]}; each repair is also reported on stderr',
    )


def _plain(value: Any) -> Any:
    """``value`` with enums (roles) replaced by their values, ready for ``json.dumps``."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_parse(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Parse a completion or transcript into messages and print them as JSON (with ``--recover``, repaired)."""
    enc = load_encoding(args)
    tokens, where = read_tokens(enc, args.path)
    role = None if args.role is None else Role(args.role)
    if args.recover:
        found = enc.recover_messages_from_completion_tokens(tokens, role)
        _print_json({
            "messages": [_plain(m.to_dict()) for m in found.messages],
            "spans": [list(span) for span in found.spans],
            "diagnostics": [replace(d, path=where).to_dict() for d in found.diagnostics],
        })
        report_recovery(found, where)
        return 0
    try:
        messages = enc.parse_messages_from_completion_tokens(tokens, role, strict=not args.lenient)
    except HarmonyError as exc:
        sys.stderr.write(f"{where}: error: {exc}\n")
        return 1
    _print_json([_plain(m.to_dict()) for m in messages])
    return 0


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
