"""``harmony-grammar grammar``: the constrained-decoding grammar of a conversation's completion, or a check of one."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from harmony_grammar.cli.io import (
    PROG,
    InputError,
    add_encoding_arguments,
    load_encoding,
    read_conversation,
    read_tokens,
)
from harmony_grammar.engine.constrain import lltokenizer
from harmony_grammar.engine.encoding import HarmonyEncoding
from harmony_grammar.errors import HarmonyError

__all__ = ["GRAMMAR_EXAMPLES", "CHOICES", "SHOWN", "add_grammar_arguments", "run_grammar", "token_label",
           "refusal"]

GRAMMAR_EXAMPLES = (
    f"{PROG} grammar convo.json > completion.lark     # llguidance Lark, for vLLM, SGLang or llama.cpp",
    f"{PROG} grammar convo.json --tool-choice required",
    f"{PROG} grammar convo.json --tool-choice get_weather --check completion.txt",
)

# The tool choices that are not a function's name.
CHOICES = ("auto", "none", "required")

# How many of the allowed tokens a refusal shows.
SHOWN = 10


def add_grammar_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``grammar``."""
    add_encoding_arguments(parser)
    parser.add_argument(
        "path", nargs="?", metavar="CONVERSATION",
        help="conversation JSON in the shape of Conversation.to_json(); '-' reads stdin; "
             "default: the built-in example",
    )
    parser.add_argument(
        "--tool-choice", metavar="CHOICE", default="auto",
        help="auto: a final answer or a call; none: no calls; required: the completion ends with a call; "
             "any other word: a call to that declared tool (get_weather, functions.get_weather, browser.search) "
             "(default: %(default)s)",
    )
    parser.add_argument(
        "--check", metavar="COMPLETION", default=None,
        help="instead of printing the grammar, check a completion against it (what the model wrote after "
             "<|start|>assistant: token ids as a JSON list or whitespace-separated, or text with special "
             "tokens written literally; '-' reads stdin)",
    )


def token_label(enc: HarmonyEncoding, token: int) -> str:
    """A token as a refusal shows it: a special token's text, else the repr of its text (of its bytes when
    they are not UTF-8 on their own)."""
    data = enc.decode_bytes([token])
    if enc.is_special_token(token):
        return data.decode("utf-8")
    try:
        return repr(data.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(data)


def refusal(enc: HarmonyEncoding, tokens: Sequence[int], index: int, allowed: Sequence[int], *,
            ended: bool = False) -> str:
    """The line ``refused at token N (TEXT): allowed here: A, B, ...``: special tokens first, then the others
    by id, at most ``SHOWN`` of them, then how many more. ``ended``: the grammar had already stopped."""
    what = token_label(enc, tokens[index]) if index < len(tokens) else "the end of the input"
    if ended:
        return f"refused at token {index} ({what}): allowed here: nothing, the completion ended at token {index - 1}"
    ordered = sorted(allowed, key=lambda t: (not enc.is_special_token(t), t))
    shown = ", ".join(token_label(enc, t) for t in ordered[:SHOWN])
    more = f" and {len(ordered) - SHOWN} more" if len(ordered) > SHOWN else ""
    return f"refused at token {index} ({what}): allowed here: {shown or 'nothing'}{more}"


def run_grammar(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the completion grammar of a conversation, or check a completion against it."""
    convo, where = read_conversation(args.path)
    enc = load_encoding(args)
    choice = args.tool_choice if args.tool_choice in CHOICES else {"name": args.tool_choice}
    try:
        grammar = enc.completion_grammar(convo, tool_choice=choice)
    except HarmonyError as exc:
        raise InputError(where, str(exc)) from None
    if args.check is None:
        sys.stdout.write(grammar.text + "\n")
        return 0

    tokens, completion = read_tokens(enc, args.check)
    try:
        enc.decode_bytes(tokens)
    except HarmonyError as exc:
        raise InputError(completion, str(exc)) from None
    try:
        lltokenizer(enc)  # only llguidance's absence fails here
    except HarmonyError as exc:
        raise InputError(PROG, str(exc)) from None
    try:
        index = grammar.check(tokens)
        if index is None:
            sys.stdout.write("accepted\n")
            return 0
        matcher = grammar.matcher()
        for token in tokens[:index]:
            matcher.consume_token(token)
        ended = matcher.is_stopped()
        allowed = [] if ended else grammar.allowed(tokens[:index], limit=enc.tokenizer.n_vocab)
    except HarmonyError as exc:  # llguidance refused the grammar itself (a schema it cannot compile)
        raise InputError(where, str(exc)) from None
    sys.stdout.write(refusal(enc, tokens, index, allowed, ended=ended) + "\n")
    return 1
