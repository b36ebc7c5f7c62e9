"""The ``harmony-grammar`` command line.

Each subcommand is a :class:`Command`: a name, a one-line summary, examples
for ``--help``, a function that adds its arguments and one that runs it.
Adding a subcommand means writing those and listing it in ``COMMANDS``.

Exit status: 0 on success, 2 for bad input or usage (``PATH: error: MESSAGE``
on stderr, never a traceback), 1 when stdout goes away mid-write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, TextIO

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .encoding import HarmonyEncoding, load_harmony_encoding
from .errors import HarmonyError
from .model import (
    Author,
    Conversation,
    DeveloperContent,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    Role,
    SystemContent,
    ToolDescription,
)

__all__ = ["main", "example_conversation", "build_parser", "InputError"]

PROG = "harmony-grammar"
BUILTIN = "<built-in example>"
STDIN = "<stdin>"

MODES = ("completion", "training", "conversation")
OUTPUTS = ("text", "tokens", "json")
COLORS = ("auto", "always", "never")

_SPECIAL_STYLE = "\x1b[1;36m"  # bold cyan
_RESET = "\x1b[0m"


class InputError(Exception):
    """Bad input: reported as ``WHERE: error: MESSAGE`` with exit status 2."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: error: {message}")
        self.where = where
        self.message = message


# -- the built-in example --------------------------------------------------


def example_conversation() -> Conversation:
    """The conversation ``render`` uses when given no file (``examples/conversation.json`` holds the same)."""
    system = (
        SystemContent.new()
        .with_reasoning_effort(ReasoningEffort.LOW)
        .with_conversation_start_date("2025-06-28")
    )
    weather = ToolDescription.new(
        "get_current_weather",
        "Gets the current weather in the provided location.",
        parameters={
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            },
            "required": ["location"],
        },
    )
    developer = DeveloperContent.new().with_instructions("Always respond in riddles").with_function_tools([weather])
    tool = "functions.get_current_weather"
    return Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.DEVELOPER, developer),
        Message.from_role_and_content(Role.USER, "What is the weather like in SF?"),
        Message.from_role_and_content(
            Role.ASSISTANT, "The user asks for the weather in San Francisco. I should call get_current_weather."
        ).with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, '{"location": "San Francisco, CA"}')
        .with_channel("commentary")
        .with_recipient(tool)
        .with_content_type("<|constrain|>json"),
        Message.from_author_and_content(Author.new(Role.TOOL, tool), '{"temperature": 20, "sunny": true}')
        .with_channel("commentary")
        .with_recipient("assistant"),
        Message.from_role_and_content(
            Role.ASSISTANT, "Where the fog rolls in by the Golden Gate, twenty degrees and sunshine await."
        ).with_channel("final"),
    ])


# -- reading input ---------------------------------------------------------


def _describe_validation_error(exc: ValidationError) -> str:
    """One line per pydantic error, ``field.path: message``, without pydantic's help links."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return f"invalid {exc.title}: " + "; ".join(parts)


def read_conversation(path: Optional[str]) -> tuple[Conversation, str]:
    """The conversation in ``path`` (``-`` for stdin, None for the built-in example), and its display name."""
    if path is None:
        return example_conversation(), BUILTIN
    where = STDIN if path == "-" else path
    try:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            data: bytes | str = stdin.read() if stdin is not None else sys.stdin.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except OSError as exc:
        raise InputError(where, f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not valid UTF-8 (byte offset {exc.start})") from None
    try:
        return Conversation.from_json(text), where
    except HarmonyError as exc:
        raise InputError(where, str(exc)) from None
    except ValidationError as exc:
        raise InputError(where, _describe_validation_error(exc)) from None
    except RecursionError:
        raise InputError(where, "conversation JSON is nested too deeply") from None


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


# -- render ----------------------------------------------------------------


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
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
    enc = load_harmony_encoding("HarmonyGptOss")
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


# -- example ---------------------------------------------------------------


def _add_example_arguments(parser: argparse.ArgumentParser) -> None:
    """``example`` takes no arguments."""


def run_example(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the built-in example conversation as JSON."""
    sys.stdout.write(json.dumps(json.loads(example_conversation().to_json()), indent=2, ensure_ascii=False) + "\n")
    return 0


# -- the command table -----------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help, examples, arguments and action."""

    name: str
    summary: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]


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
        _add_render_arguments,
        run_render,
    ),
    Command(
        "example",
        "print the built-in example conversation as JSON (input for render)",
        (f"{PROG} example > convo.json && {PROG} render convo.json",),
        _add_example_arguments,
        run_example,
    ),
)


def _epilog(examples: Sequence[str]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in examples)


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "unknown"
    try:
        return version("harmony-grammar")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser, with one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The harmony chat format of gpt-oss: a grammar, templates and a pure-Python engine.",
        epilog=_epilog([example for command in COMMANDS for example in command.examples[:1]]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.summary[0].upper() + command.summary[1:] + ".",
            epilog=_epilog(command.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(_command=command, _parser=sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (the console script passes it to ``sys.exit``)."""
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
