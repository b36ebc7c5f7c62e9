"""The ``harmony-grammar`` command line: the table of subcommands, the parser built from it, and ``main``."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from harmony_grammar.cli.check_template import (
    CHECK_TEMPLATE_EXAMPLES,
    CHECK_TEMPLATE_NOTES,
    add_check_template_arguments,
    run_check_template,
)
from harmony_grammar.cli.chat_template import (CHAT_TEMPLATE_EXAMPLES, CHAT_TEMPLATE_NOTES,
                                              add_chat_template_arguments, run_chat_template)
from harmony_grammar.cli.grammar import GRAMMAR_EXAMPLES, add_grammar_arguments, run_grammar
from harmony_grammar.cli.io import PROG, InputError, epilog
from harmony_grammar.cli.parse import add_parse_arguments, run_parse
from harmony_grammar.cli.render import add_example_arguments, add_render_arguments, run_example, run_render
from harmony_grammar.cli.render_dataset import add_render_dataset_arguments, run_render_dataset
from harmony_grammar.cli.repair import REPAIR_EXAMPLES, add_repair_arguments, run_repair
from harmony_grammar.cli.templates import TEMPLATES_EXAMPLES, add_templates_arguments, run_templates
from harmony_grammar.cli.validate import add_validate_arguments, run_validate
from harmony_grammar.resources import package_version


__all__ = ["main", "build_parser", "Command", "COMMANDS"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help, examples, arguments and action.

    Adding a subcommand means writing a module with its ``add_arguments`` and
    ``run`` functions and listing it in ``COMMANDS``.
    """

    name: str
    summary: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]
    notes: str = ""  # shown after the examples in --help


COMMANDS: tuple[Command, ...] = (
    Command(
        "render",
        "render a conversation to harmony tokens and print them",
        (
            f"{PROG} render                          # the built-in example, for completion",
            f"{PROG} render convo.json --mode training",
            f"cat convo.json | {PROG} render - --output tokens",
            f"{PROG} render --keep-analysis --output json",
        ),
        add_render_arguments,
        run_render,
    ),
    Command(
        "example",
        "print the built-in example conversation as JSON (input for render)",
        (f"{PROG} example > convo.json && {PROG} render convo.json",),
        add_example_arguments,
        run_example,
    ),
    Command(
        "validate",
        "check transcripts against the grammar and their own declarations, reporting every problem",
        (
            f"{PROG} validate examples/broken.txt",
            f"{PROG} validate --format json transcript.txt tokens.json",
            f"{PROG} render --mode conversation | {PROG} validate -",
            f"{PROG} validate --role assistant completion.json   # model output, after <|start|>assistant",
        ),
        add_validate_arguments,
        run_validate,
        "exit status: 0 when no file has an error (warnings allowed), 1 when one has,\n"
        "2 when a file cannot be read (the others are still checked) or for usage errors",
    ),
    Command(
        "parse",
        "parse tokens or a transcript into messages and print them as JSON",
        (
            f"{PROG} parse --role assistant examples/completion.json",
            f"{PROG} parse examples/transcript.txt",
            f"{PROG} render --output tokens --mode conversation | {PROG} parse -",
            f"{PROG} parse --role assistant --lenient completion.txt",
            f"{PROG} parse --role assistant --recover completion.txt   # repair what does not parse",
        ),
        add_parse_arguments,
        run_parse,
        "exit status: 0 when parsed, 1 when the tokens do not parse (PATH: error: MESSAGE),\n"
        "2 when the file cannot be read or is not a token list or text. --recover always parses:\n"
        "each repair goes to stderr as PATH:token N: warning: MESSAGE [CODE], then a line\n"
        "'N messages, M repairs, K tokens dropped'",
    ),
    Command(
        "repair",
        "recover the messages of malformed model output and write them again, canonically rendered",
        REPAIR_EXAMPLES,
        add_repair_arguments,
        run_repair,
        "the output has the input's form: text, a JSON list of ids or whitespace-separated ids.\n"
        "each repair goes to stderr as PATH:token N: warning: MESSAGE [CODE], then a line\n"
        "'N messages, M repairs, K tokens dropped'. exit status: 0 when written, 1 when a\n"
        "recovered message cannot be rendered (a tool's without a name: PATH: error: MESSAGE),\n"
        "2 when IN cannot be read or OUT cannot be written, or for usage errors",
    ),
    Command(
        "render-dataset",
        "render a JSON Lines file of conversations into input_ids and loss_mask rows for training",
        (
            f"{PROG} render-dataset train.jsonl train.tokens.jsonl",
            f"{PROG} render-dataset chats.jsonl out.jsonl --input chat --workers 4 --on-error skip",
            f"{PROG} render-dataset train.jsonl train.parquet --output-format parquet --train-on all_assistant",
        ),
        add_render_dataset_arguments,
        run_render_dataset,
        "bad lines are reported as IN:LINE: error: MESSAGE; the last line of stderr reads\n"
        "'N written, M skipped'. exit status: 0 when every line was written, 1 when a line\n"
        "was skipped or stopped the run (then OUT is not written), 2 for usage or file errors",
    ),
    Command(
        "grammar",
        "print the grammar of the completions the model may write after a conversation, or check one",
        GRAMMAR_EXAMPLES,
        add_grammar_arguments,
        run_grammar,
        "the grammar is llguidance's Lark syntax (see the README's 'Constrained decoding').\n"
        "--check prints 'accepted' (exit status 0) or 'refused at token N (TEXT): allowed here: ...'\n"
        "(exit status 1); 2 when a file cannot be read, the tool choice names no declared tool,\n"
        "or llguidance is not installed (pip install 'harmony-grammar[constrain]')",
    ),
    Command(
        "templates",
        "export or list the template files the format is rendered with",
        TEMPLATES_EXAMPLES,
        add_templates_arguments,
        run_templates,
    ),
    Command(
        "chat-template",
        "write the Hugging Face chat template that renders what the renderer renders",
        CHAT_TEMPLATE_EXAMPLES,
        add_chat_template_arguments,
        run_chat_template,
        CHAT_TEMPLATE_NOTES,
    ),
    Command(
        "check-template",
        "check a Hugging Face chat template against the renderer, case by case",
        CHECK_TEMPLATE_EXAMPLES,
        add_check_template_arguments,
        run_check_template,
        CHECK_TEMPLATE_NOTES,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser, with one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The harmony chat format of gpt-oss: a grammar, templates and a pure-Python engine.",
        epilog=epilog([example for command in COMMANDS for example in command.examples[:1]]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.summary[0].upper() + command.summary[1:] + ".",
            epilog=epilog(command.examples) + (f"\n\n{command.notes}" if command.notes else ""),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(_command=command, _parser=sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (the console script passes it to ``sys.exit``).

    Exit status: 0 on success, 2 for bad input or usage (``PATH: error: MESSAGE``
    on stderr, never a traceback), 1 when the input was read but fails (``validate``
    found an error, ``parse`` could not parse it) or stdout goes away mid-write.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    command: Optional[Command] = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return command.run(args, args._parser)
    except SystemExit as exc:  # parser.error() inside a command
        return exc.code if isinstance(exc.code, int) else 2
    except InputError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from
        # complaining again while flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
