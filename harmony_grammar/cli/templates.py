"""``harmony-grammar templates``: export or list one dialect's template files."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from harmony_grammar.cli.io import PROG, InputError, epilog
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.templating import DEFAULT_DIALECT, dialects, export_templates, template_files

__all__ = ["TEMPLATES_EXAMPLES", "add_templates_arguments", "describe_template", "run_templates"]

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


def _template_source(args: argparse.Namespace) -> str:
    """The dialect whose templates the templates actions work on."""
    return getattr(args, "dialect", None) or DEFAULT_DIALECT


def add_templates_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions of ``templates``, each with its arguments."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    export = actions.add_parser(
        "export", help="write the template files into DIR, ready to edit and use as template_dir",
        description="Write the template files into DIR (created if missing), one flat folder ready to edit "
                    "and pass to load_harmony_encoding(template_dir=DIR); prints the files written.",
        epilog=epilog(TEMPLATES_EXAMPLES), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("dir", metavar="DIR", help="the folder to write into")
    export.add_argument("--force", action="store_true", help="replace files that already exist in DIR")
    _add_template_source_arguments(export)
    listing = actions.add_parser(
        "list", help="list the template files, each with what it holds",
        description="List the template files (the names export writes), each with the first line of its comment.",
        epilog=epilog(TEMPLATES_EXAMPLES), formatter_class=argparse.RawDescriptionHelpFormatter,
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
