"""What the command-line tests share: the example files, the README, and running ``main`` in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony_grammar.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
TRANSCRIPT = EXAMPLES / "transcript.txt"
BROKEN = EXAMPLES / "broken.txt"
COMPLETION = EXAMPLES / "completion.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``harmony-grammar ARGV...`` in this process: its exit status, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
