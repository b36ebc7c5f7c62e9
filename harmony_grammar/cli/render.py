"""``harmony-grammar render`` (a conversation to tokens) and ``example`` (the built-in example as JSON)."""

from __future__ import annotations

import argparse
import json
import sys

from pydantic_core import PydanticSerializationError

from harmony_grammar.cli.io import (
    COLORS,
    InputError,
    add_encoding_arguments,
    format_output,
    load_encoding,
    read_conversation,
    use_color,
)
from harmony_grammar.errors import HarmonyError
from harmony_grammar.example import example_conversation
from harmony_grammar.model import RenderConversationConfig, Role

__all__ = ["add_render_arguments", "run_render", "add_example_arguments", "run_example"]

MODES = ("completion", "training", "conversation")
OUTPUTS = ("text", "tokens", "json")


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``render``."""
    add_encoding_arguments(parser)
    parser.add_argument(
        "path", nargs="?", metavar="PATH",
        help="conversation JSON in the shape of Conversation.to_json(); '-' reads stdin; "
             "default: the built-in example",
    )
    parser.add_argument(
        "--mode", choices=MODES, default="completion",
        help="completion: render_conversation_for_completion (opens the next turn); "
             "training: render_conversation_for_training; conversation: render_conversation "
             "(default: %(default)s)",
    )
    parser.add_argument(
        "--next-role", metavar="ROLE", choices=[r.value for r in Role], default=None,
        help="role of the turn opened in completion mode: " + ", ".join(r.value for r in Role)
             + " (default: assistant)",
    )
    parser.add_argument(
        "--output", choices=OUTPUTS, default="text",
        help="text: decoded text with special tokens visible; tokens: a JSON list of token ids; "
             'json: {"tokens": [...], "text": "..."} (default: %(default)s)',
    )
    parser.add_argument(
        "--keep-analysis", action="store_true",
        help="keep analysis messages that precede a final answer (auto_drop_analysis=False)",
    )
    parser.add_argument(
        "--color", choices=COLORS, default="auto",
        help="colour special tokens in text output; auto: only on a terminal and without NO_COLOR "
             "(default: %(default)s)",
    )


def run_render(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Render a conversation and print it."""
    if args.next_role is not None and args.mode != "completion":
        parser.error(f"--next-role only applies to --mode completion, not --mode {args.mode}")
    convo, where = read_conversation(args.path)
    config = RenderConversationConfig(auto_drop_analysis=not args.keep_analysis)
    enc = load_encoding(args)
    try:
        if args.mode == "completion":
            tokens = enc.render_conversation_for_completion(convo, Role(args.next_role or "assistant"), config)
        elif args.mode == "training":
            tokens = enc.render_conversation_for_training(convo, config)
        else:
            tokens = enc.render_conversation(convo, config)
    except HarmonyError as exc:
        raise InputError(where, str(exc)) from None
    except (PydanticSerializationError, RecursionError) as exc:
        # Schemas nested deeper than the serializer allows; the reference
        # rejects these too (serde_json's recursion limit).
        raise InputError(where, f"conversation is nested too deeply to render: {exc}") from None
    color = args.output == "text" and use_color(args.color, sys.stdout)
    sys.stdout.write(format_output(enc, tokens, args.output, color) + "\n")
    return 0


def add_example_arguments(parser: argparse.ArgumentParser) -> None:
    """``example`` takes no arguments."""


def run_example(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the built-in example conversation as JSON."""
    sys.stdout.write(json.dumps(json.loads(example_conversation().to_json()), indent=2, ensure_ascii=False) + "\n")
    return 0
