"""``harmony-grammar chat-template``: write the Hugging Face chat template exported from the templates."""

from __future__ import annotations

import argparse

from harmony_grammar.cli.io import PROG, InputError, add_encoding_arguments, load_encoding, write_output
from harmony_grammar.errors import HarmonyError

__all__ = ["CHAT_TEMPLATE_EXAMPLES", "CHAT_TEMPLATE_NOTES", "add_chat_template_arguments", "run_chat_template"]

CHAT_TEMPLATE_EXAMPLES = (
    f"{PROG} chat-template -o chat_template.jinja",
    f"{PROG} chat-template --templates my-templates -o chat_template.jinja   # after editing the templates",
    f"{PROG} chat-template -o t.jinja && {PROG} check-template t.jinja",
)

CHAT_TEMPLATE_NOTES = (
    "The template renders, through transformers' apply_chat_template or any engine with a Jinja chat\n"
    "template, what HarmonyEncoding.apply_chat_template renders. Keywords the template reads:\n"
    "reasoning_effort, model_identity, conversation_start_date, knowledge_cutoff, builtin_tools,\n"
    "response_format, auto_drop_analysis."
)


def add_chat_template_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoding_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", default="-",
                        help="where to write the template ('-', the default, is stdout)")


def run_chat_template(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    encoding = load_encoding(args)
    try:
        text = encoding.chat_template()
    except HarmonyError as exc:
        raise InputError(args.templates or args.dialect, str(exc)) from None
    write_output(args.output, text)
    return 0
