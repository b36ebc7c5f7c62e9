"""``harmony-grammar repair``: model output recovered and written again canonically, in the form it came in."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from harmony_grammar.cli.io import (
    PROG,
    add_encoding_arguments,
    add_role_argument,
    add_token_input_argument,
    format_tokens,
    load_encoding,
    read_token_input,
    report_recovery,
    write_output,
)
from harmony_grammar.engine.encoding import HarmonyEncoding
from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import Conversation, Message, RenderConversationConfig, Role

__all__ = ["REPAIR_EXAMPLES", "add_repair_arguments", "run_repair", "repaired_tokens"]

REPAIR_EXAMPLES = (
    f"{PROG} repair --role assistant completion.txt -o fixed.txt",
    f"{PROG} repair --role assistant completion.json    # prints a JSON list of token ids",
    f"{PROG} repair transcript.txt -o transcript.txt     # in place: written only when complete",
)


def add_repair_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``repair``."""
    add_encoding_arguments(parser)
    add_token_input_argument(parser, "IN", "; the output has the same form")
    parser.add_argument(
        "-o", "--output", metavar="OUT", default="-",
        help="where to write the repaired tokens, replacing OUT only when complete; '-' (the default) is stdout",
    )
    add_role_argument(parser, "the input is a completion that starts after <|start|>ROLE; so is the output")


def repaired_tokens(enc: HarmonyEncoding, messages: list[Message], role: Optional[Role]) -> list[int]:
    """``messages`` rendered for training with every analysis kept; with ``role``, without the leading
    ``<|start|>ROLE`` (when the first message has it), so that a completion stays a completion."""
    tokens = enc.render_conversation_for_training(
        Conversation.from_messages(messages), RenderConversationConfig(auto_drop_analysis=False))
    if role is not None and messages and messages[0].author.role == role:
        opening = enc.render_conversation_for_completion(Conversation.from_messages([]), role)
        if tokens[:len(opening)] == opening:
            del tokens[:len(opening)]
    return tokens


def run_repair(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Recover the input's messages and write them again, canonically rendered, in the input's form."""
    enc = load_encoding(args)
    tokens, where, form = read_token_input(enc, args.path)
    role = None if args.role is None else Role(args.role)
    found = enc.recover_messages_from_completion_tokens(tokens, role)
    try:
        repaired = repaired_tokens(enc, found.messages, role)
    except HarmonyError as exc:  # a message the format cannot render, such as a tool's without a name
        report_recovery(found, where)
        sys.stderr.write(f"{where}: error: the recovered messages cannot be rendered: {exc}\n")
        return 1
    write_output(args.output, format_tokens(enc, repaired, form))
    report_recovery(found, where)
    return 0
