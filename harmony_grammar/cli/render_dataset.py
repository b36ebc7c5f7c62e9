"""``harmony-grammar render-dataset``: a JSON Lines file of conversations into training rows."""

from __future__ import annotations

import argparse
import os
import sys

from harmony_grammar.cli.io import COLORS, InputError, add_encoding_arguments
from harmony_grammar.errors import HarmonyError

__all__ = ["add_render_dataset_arguments", "run_render_dataset"]

# The dataset modules are imported inside the functions: the other commands never load them.


def add_render_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``render-dataset``."""
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
    add_encoding_arguments(parser)


def run_render_dataset(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Render the input file into the training file, reporting bad lines and a summary on stderr."""
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
