"""``harmony-grammar check-template``: a Hugging Face chat template against the renderer, on the built-in cases."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from harmony_grammar.cli.io import PROG, InputError, add_encoding_arguments, decode_text, load_encoding, read_bytes
from harmony_grammar.errors import HarmonyError

__all__ = ["CHECK_TEMPLATE_EXAMPLES", "CHECK_TEMPLATE_NOTES", "add_check_template_arguments", "run_check_template"]

CHECK_TEMPLATE_EXAMPLES = (
    f"{PROG} check-template chat_template.jinja",
    f"{PROG} check-template chat_template.jinja --templates my-templates   # against your edited templates",
    f"{PROG} check-template - --json < chat_template.jinja",
    f"{PROG} check-template official.jinja --today   # a template that always writes today's date",
)

CHECK_TEMPLATE_NOTES = (
    "each case prints 'NAME: identical', 'NAME: differs at character N: KIND: expected ... got ...'\n"
    "or 'NAME: raised: MESSAGE', then a line 'N cases: X identical, Y differ, Z raised'.\n"
    "exit status: 0 when every case is identical, 1 when one differs or raises, 2 when the\n"
    "template cannot be read or compiled (TEMPLATE:LINE: error: template syntax error: ...)\n"
    "or for usage errors"
)


def add_check_template_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``check-template``."""
    parser.add_argument("template", metavar="TEMPLATE.jinja",
                        help="the chat template (the text of tokenizer_config.json's chat_template); '-' reads stdin")
    add_encoding_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help='print {"cases": [...], "summary": {...}} instead of one line per case')
    parser.add_argument("--today", action="store_true",
                        help="give no case a conversation_start_date, so both sides write today's date "
                             "(for templates that ignore the keyword, as the official one does)")


def run_check_template(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Render every built-in case through the renderer and the template, and print how each came out."""
    from harmony_grammar.integrations.chat_template.check import check_template, load_cases, summarize, summary_line
    from harmony_grammar.integrations.chat_template.environment import ChatTemplateError

    data, where = read_bytes(args.template)
    source = decode_text(data, where)
    enc = load_encoding(args)
    try:
        cases = load_cases()
        if args.today:
            cases = [dataclasses.replace(c, kwargs={k: v for k, v in c.kwargs.items() if k != "conversation_start_date"})
                     for c in cases]
        results = check_template(source, enc, cases, filename=where)
    except ChatTemplateError as exc:  # it does not compile
        raise InputError(exc.where, exc.detail) from None
    except HarmonyError as exc:
        raise InputError(where, str(exc)) from None
    if args.json:
        report = {"cases": [r.to_json() for r in results], "summary": summarize(results)}
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        for result in results:
            sys.stdout.write(f"{result.case.name}: {result.describe()}\n")
        sys.stdout.write(summary_line(results) + "\n")
    return 0 if all(r.status == "identical" for r in results) else 1
