"""The one exception type the library raises for harmony problems."""

from __future__ import annotations

__all__ = ["HarmonyError", "HarmonyWarning"]


class HarmonyError(RuntimeError):
    """A rendering, parsing, tokenizer or data error.

    It subclasses ``RuntimeError`` as the reference's ``HarmonyError`` does, so
    ``except RuntimeError`` written against ``openai_harmony`` keeps working.
    Messages name the place (token index, field, template line) and what was
    expected there.
    """


class HarmonyWarning(UserWarning):
    """Model output that was repaired to be read (the lenient paths of ``harmony_grammar.integrations.chat``)."""
