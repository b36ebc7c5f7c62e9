"""``harmony-grammar parse``: token ids or a transcript into messages, printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from enum import Enum
from typing import Any

from harmony_grammar.cli.io import add_encoding_arguments, add_role_argument, load_encoding, read_tokens
from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import Role

__all__ = ["add_parse_arguments", "run_parse"]


def add_parse_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``parse``."""
    add_encoding_arguments(parser)
    parser.add_argument(
        "path", nargs="?", default="-", metavar="FILE",
        help="token ids as a JSON list or whitespace-separated, or text with special tokens written "
             "literally; '-' (the default) reads stdin",
    )
    add_role_argument(parser, "the input is a completion that starts after <|start|>ROLE, as a model writes it")
    parser.add_argument(
        "--lenient", action="store_true",
        help="let a stop token end a header early, as the reference's strict=False does",
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
    """Parse a completion or transcript into messages and print them as JSON."""
    enc = load_encoding(args)
    tokens, where = read_tokens(enc, args.path)
    role = None if args.role is None else Role(args.role)
    try:
        messages = enc.parse_messages_from_completion_tokens(tokens, role, strict=not args.lenient)
    except HarmonyError as exc:
        sys.stderr.write(f"{where}: error: {exc}\n")
        return 1
    out = [_plain(m.to_dict()) for m in messages]
    sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return 0
