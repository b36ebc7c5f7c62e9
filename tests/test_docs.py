"""The examples in the package's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import re
import importlib
import pkgutil
from pathlib import Path

import pytest

import harmony_grammar

MODULES = ["harmony_grammar"] + [m.name for m in pkgutil.walk_packages(harmony_grammar.__path__, "harmony_grammar.")
                                 if not m.name.endswith("__main__")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_modules_with_examples_have_them():
    counts = {name: doctest.testmod(importlib.import_module(name)).attempted for name in MODULES}
    assert all(counts[f"harmony_grammar.{m}"] > 0 for m in
               ("format.tokens", "format.templating", "format.header", "format.grammar", "engine.stream",
                "engine.encoding", "tools.declarations", "tools.validate", "model", "integrations.chat.convert",
                "integrations.chat.stream", "integrations.chat.mapping", "integrations.training"))


def test_ci_runs_the_readme_test_command():
    """``.ci/run`` installs and tests exactly as the README's set-up command says."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"python -m venv \.venv && \.venv/bin/pip install (-e '\.\[[a-z,]+\]') && "
                        r"\.venv/bin/python -m pytest([^\n`]*)", readme)
    assert command is not None
    install, pytest_args = command.group(1), command.group(2).strip()
    assert install == "-e '.[test,integrations]'"
    assert f'"$venv/bin/pip" install {install}\n' in ci
    assert f'"$venv/bin/python" -m pytest {pytest_args} || status=$?' in ci
    assert "export HARMONY_REQUIRE_REFERENCE=1" in ci and "export HARMONY_REQUIRE_INTEGRATIONS=1" in ci
