"""The examples in the package's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

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
