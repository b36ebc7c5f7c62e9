"""The ``harmony-grammar`` command line.

Each subcommand is a :class:`Command`: a name, a one-line summary, examples
for ``--help``, a function that adds its arguments and one that runs it.
Adding a subcommand means writing those and listing it in ``COMMANDS``.

Exit status: 0 on success, 2 for bad input or usage (``PATH: error: MESSAGE``
on stderr, never a traceback), 1 when the input was read but fails (``validate``
found an error, ``parse`` could not parse it) or stdout goes away mid-write.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TextIO

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from harmony_grammar.engine.encoding import HarmonyEncoding, load_harmony_encoding
from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import (
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
from harmony_grammar.engine.parse import check_token_ids
from harmony_grammar.format.templating import DEFAULT_DIALECT, dialects, export_templates, template_files
from harmony_grammar.tools.validate import Diagnostic, validate_file

__all__ = ["main", "example_conversation", "build_parser", "InputError"]

PROG = "harmony-grammar"
BUILTIN = "<built-in example>"
STDIN = "<stdin>"

MODES = ("completion", "training", "conversation")
OUTPUTS = ("text", "tokens", "json")
COLORS = ("auto", "always", "never")
FORMATS = ("text", "json")
ROLES = tuple(r.value for r in Role)

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
        raise InputError(where, _describe_validation_error(exc)) from None
    except RecursionError:
        raise InputError(where, "conversation JSON is nested too deeply") from None


_TOKEN_IDS = re.compile(r"\s*\d+(?:\s+\d+)*\s*")


def read_tokens(enc: HarmonyEncoding, path: str) -> tuple[list[int], str]:
    """Token ids from ``path``: a JSON list, whitespace-separated ints, or text with literal special tokens.

    Text is encoded with every special token allowed; one newline at its end (as
    ``render`` prints it) is not part of the transcript.
    """
    data, where = read_bytes(path)
    text = decode_text(data, where)
    if _TOKEN_IDS.fullmatch(text):
        return [int(t) for t in text.split()], where
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
            return check_token_ids(ids), where
        except HarmonyError as exc:
            raise InputError(where, str(exc)) from None
    if text.endswith("\n"):
        text = text[:-1]
    return enc.encode(text, allowed_special="all"), where


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


# -- render ----------------------------------------------------------------


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
    _add_encoding_arguments(parser)
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
    enc = _encoding(args)
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


# -- validate --------------------------------------------------------------


def _add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    _add_encoding_arguments(parser)
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
    parser.add_argument(
        "--role", metavar="ROLE", choices=ROLES, default=None,
        help="the files are completions: model output that starts after <|start|>ROLE (one of "
             + ", ".join(ROLES) + ")",
    )


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
    enc = _encoding(args)
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


# -- parse -----------------------------------------------------------------


def _add_parse_arguments(parser: argparse.ArgumentParser) -> None:
    _add_encoding_arguments(parser)
    parser.add_argument(
        "path", nargs="?", default="-", metavar="FILE",
        help="token ids as a JSON list or whitespace-separated, or text with special tokens written "
             "literally; '-' (the default) reads stdin",
    )
    parser.add_argument(
        "--role", metavar="ROLE", choices=ROLES, default=None,
        help="the input is a completion that starts after <|start|>ROLE, as a model writes it (one of "
             + ", ".join(ROLES) + ")",
    )
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
    enc = _encoding(args)
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


# -- templates -------------------------------------------------------------

# ``templates export`` and ``templates list`` work on one dialect's set of template
# files (--dialect), flattened as load_harmony_encoding(template_dir=...) reads them.

TEMPLATES_EXAMPLES = (
    f"{PROG} templates export my-templates",
    f"{PROG} templates export upstream --dialect openai-harmony",
    f"{PROG} templates export my-templates --force   # replace files already there",
    f"{PROG} templates list",
)


def _add_template_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by the templates actions that choose which templates."""
    parser.add_argument("--dialect", choices=dialects(), default=DEFAULT_DIALECT,
                        help="whose templates: " + ", ".join(dialects()) + " (default: %(default)s)")


def _add_encoding_arguments(parser: argparse.ArgumentParser) -> None:
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


def _encoding(args: argparse.Namespace) -> HarmonyEncoding:
    """The encoding for --dialect and --templates; a bad template folder is an input error."""
    try:
        return load_harmony_encoding("HarmonyGptOss", dialect=args.dialect, template_dir=args.templates)
    except HarmonyError as exc:
        raise InputError(args.templates or args.dialect, str(exc)) from None


def _template_source(args: argparse.Namespace) -> str:
    """The dialect whose templates the templates actions work on."""
    return getattr(args, "dialect", None) or DEFAULT_DIALECT


def _add_templates_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    export = actions.add_parser(
        "export", help="write the template files into DIR, ready to edit and use as template_dir",
        description="Write the template files into DIR (created if missing), one flat folder ready to edit "
                    "and pass to load_harmony_encoding(template_dir=DIR); prints the files written.",
        epilog=_epilog(TEMPLATES_EXAMPLES), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("dir", metavar="DIR", help="the folder to write into")
    export.add_argument("--force", action="store_true", help="replace files that already exist in DIR")
    _add_template_source_arguments(export)
    listing = actions.add_parser(
        "list", help="list the template files, each with what it holds",
        description="List the template files (the names export writes), each with the first line of its comment.",
        epilog=_epilog(TEMPLATES_EXAMPLES), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_template_source_arguments(listing)


def describe_template(path: Path) -> str:
    """The first sentence of a template's leading ``{#- ... -#}`` comment, or of a JSON file's comment (no full stop)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if "reference" in data and "name" in data:
            return f"Settings of the {data['name']} dialect, which matches {data['reference']}"
        comment = str(data.get("comment") or data.get("description") or "")
    else:
        m = re.match(r"\s*\{#-?(.*?)-?#\}", text, re.S)
        comment = m.group(1) if m else ""
    comment = " ".join(comment.split())
    m = re.match(r"(.*?)\.(?:\s|$)", comment)
    return m.group(1) if m else comment


def run_templates(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``templates export`` and ``templates list``."""
    dialect = _template_source(args)
    files = template_files(dialect)
    if args.action == "list":
        width = max(len(name) for name in files)
        for name, path in files.items():
            sys.stdout.write(f"{name:<{width}}  {describe_template(path)}\n")
        return 0
    try:
        written = export_templates(Path(args.dir), dialect, force=args.force)
    except HarmonyError as exc:  # "DIR: would overwrite ...": say it in the command line's terms
        message = str(exc).removeprefix(f"{Path(args.dir)}: ").replace("(use force ", "(use --force ")
        raise InputError(args.dir, message) from None
    except OSError as exc:
        raise InputError(args.dir, f"cannot write: {exc.strerror or exc}") from None
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


# -- render-dataset ----------------------------------------------------------


def _add_render_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    from harmony_grammar.integrations.datasets import SHAPES
    from harmony_grammar.engine.mask import TRAIN_ON

    parser.add_argument("source", metavar="IN", help="JSON Lines, one conversation per line ('-' for stdin)")
    parser.add_argument("target", metavar="OUT", help="the training file to write (replaced only when complete)")
    parser.add_argument("--input", choices=SHAPES, default="auto",
                        help="the shape of each line: harmony (Conversation.to_json), chat (Chat Completions "
                             "messages, tools, settings) or auto, which tells them apart per line (default)")
    parser.add_argument("--train-on", choices=TRAIN_ON, default="last_turn",
                        help="which assistant messages the loss mask covers (default: %(default)s)")
    parser.add_argument("--keep-analysis", action="store_true",
                        help="render analysis messages that the reference drops before a final answer")
    parser.add_argument("--output-format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (default) or parquet (needs pyarrow: pip install 'harmony-grammar[parquet]')")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes rendering in parallel, keeping the input order (0: one per CPU)")
    parser.add_argument("--on-error", choices=("stop", "skip"), default="stop",
                        help="at a bad line: stop and write nothing (default), or report it, skip it and go on")
    parser.add_argument("--progress", choices=COLORS, default="auto",
                        help="a progress line on stderr: auto (when stderr is a terminal), always or never")
    _add_encoding_arguments(parser)


def run_render_dataset(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from harmony_grammar.integrations.dataset_files import DatasetJob, describe, parquet_available, run_job

    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.output_format == "parquet" and not parquet_available():
        raise InputError(args.target, "--output-format parquet needs pyarrow "
                                      "(pip install 'harmony-grammar[parquet]')")
    job = DatasetJob(
        source=args.source, target=args.target, shape=args.input, train_on=args.train_on,
        keep_analysis=args.keep_analysis, output_format=args.output_format,
        workers=args.workers or (os.cpu_count() or 1), skip_errors=args.on_error == "skip",
        dialect=args.dialect, template_dir=args.templates,
    )
    progress = {"auto": None, "always": True, "never": False}[args.progress]
    try:
        summary = run_job(job, sys.stderr, progress)
    except HarmonyError as exc:
        raise InputError(args.templates or args.dialect, str(exc)) from None
    except OSError as exc:
        raise InputError(exc.filename or args.target, f"cannot read or write: {exc.strerror}") from None
    for line in describe(summary, job):
        sys.stderr.write(line + "\n")
    return 1 if summary.skipped or summary.stopped_at is not None else 0


# -- the command table -----------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help, examples, arguments and action."""

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
    Command(
        "validate",
        "check transcripts against the grammar and their own declarations, reporting every problem",
        (
            f"{PROG} validate examples/broken.txt",
            f"{PROG} validate --format json transcript.txt tokens.json",
            f"{PROG} render --mode conversation | {PROG} validate -",
            f"{PROG} validate --role assistant completion.json   # model output, after <|start|>assistant",
        ),
        _add_validate_arguments,
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
        ),
        _add_parse_arguments,
        run_parse,
        "exit status: 0 when parsed, 1 when the tokens do not parse (PATH: error: MESSAGE),\n"
        "2 when the file cannot be read or is not a token list or text",
    ),
    Command(
        "render-dataset",
        "render a JSON Lines file of conversations into input_ids and loss_mask rows for training",
        (
            f"{PROG} render-dataset train.jsonl train.tokens.jsonl",
            f"{PROG} render-dataset chats.jsonl out.jsonl --input chat --workers 4 --on-error skip",
            f"{PROG} render-dataset train.jsonl train.parquet --output-format parquet --train-on all_assistant",
        ),
        _add_render_dataset_arguments,
        run_render_dataset,
        "bad lines are reported as IN:LINE: error: MESSAGE; the last line of stderr reads\n"
        "'N written, M skipped'. exit status: 0 when every line was written, 1 when a line\n"
        "was skipped or stopped the run (then OUT is not written), 2 for usage or file errors",
    ),
    Command(
        "templates",
        "export or list the template files the format is rendered with",
        TEMPLATES_EXAMPLES,
        _add_templates_arguments,
        run_templates,
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
            epilog=_epilog(command.examples) + (f"\n\n{command.notes}" if command.notes else ""),
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
