"""Run code written for ``openai_harmony`` on harmony_grammar, unchanged.

Servers such as vLLM and gpt-oss's own Responses API server ``import openai_harmony``.
Call ``install()`` once, before anything imports ``openai_harmony`` (in a launcher
script or a ``sitecustomize.py``)::

    import harmony_grammar.compat
    harmony_grammar.compat.install()      # or install(recover=True)
    import vllm                           # its ``from openai_harmony import ...`` now gets harmony_grammar

``install`` puts a module named ``openai_harmony`` in ``sys.modules`` whose
attributes are harmony_grammar's (``openai_harmony.Message is harmony_grammar.Message``).
It never imports a real ``openai_harmony``, and refuses with ``HarmonyError`` if
one is already imported. ``install(recover=True)`` makes the alias's
``StreamableParser`` default to ``recover=True``: it recovers from malformed
model output instead of raising, and reports what it skipped on
``parser.diagnostics``. ``uninstall()`` takes the alias away again.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from typing import Any, Optional

import harmony_grammar
from harmony_grammar.errors import HarmonyError

__all__ = ["NAME", "EXPORTS", "install", "uninstall"]

NAME = "openai_harmony"

# ``openai_harmony.__all__`` (oss-harmony 0.0.11 and openai-harmony 0.0.8 export the same names).
EXPORTS = (
    "Role", "Author", "Content", "TextContent", "DeveloperContent", "ToolDescription", "SystemContent",
    "Message", "Conversation", "HarmonyEncoding", "HarmonyEncodingName", "load_harmony_encoding",
    "StreamableParser", "StreamState", "HarmonyError",
)

# Set on the alias module: how it was installed (its ``recover``); marks the module as ours.
_MARK = "__harmony_grammar_compat__"


def _ours(module: object) -> Optional[dict[str, Any]]:
    """The install settings of ``module`` if it is our alias, else None."""
    mark = getattr(module, "__dict__", {}).get(_MARK)
    return mark if isinstance(mark, dict) else None


def _origin(module: object) -> str:
    """Where a foreign ``openai_harmony`` was imported from, for the error message."""
    where = getattr(module, "__dict__", {}).get("__file__")
    if not where:
        spec = getattr(module, "__dict__", {}).get("__spec__")
        where = getattr(spec, "origin", None)
    return str(where) if where else repr(module)


def _recovering_parser() -> type:
    """A ``StreamableParser`` subclass whose ``recover`` defaults to True."""
    import inspect

    base = harmony_grammar.StreamableParser
    if "recover" not in inspect.signature(base.__init__).parameters:
        raise HarmonyError("this harmony_grammar has no recovering StreamableParser")

    class StreamableParser(base):  # type: ignore[misc, valid-type]
        """harmony_grammar's ``StreamableParser``, recovering from malformed output unless told otherwise."""

        def __init__(self, encoding: Any, role: Any, *, strict: bool = True, recover: bool = True,
                     **kw: Any) -> None:
            super().__init__(encoding, role, strict=strict, recover=recover, **kw)

    StreamableParser.__module__ = NAME
    StreamableParser.__qualname__ = "StreamableParser"
    return StreamableParser


def _alias(recover: bool) -> types.ModuleType:
    """A fresh ``openai_harmony`` module delegating to harmony_grammar."""
    module = types.ModuleType(NAME, f"harmony_grammar, installed as {NAME} by harmony_grammar.compat.install().")
    public = frozenset(harmony_grammar.__all__)

    def __getattr__(name: str) -> Any:
        if name not in public:
            raise AttributeError(f"module {NAME!r} has no attribute {name!r}")
        value = getattr(harmony_grammar, name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | public)

    origin = harmony_grammar.__file__
    spec = importlib.machinery.ModuleSpec(NAME, None, origin=origin)
    spec.has_location = origin is not None
    vars(module).update({
        "__file__": origin, "__spec__": spec, "__all__": list(EXPORTS),
        "__getattr__": __getattr__, "__dir__": __dir__, _MARK: {"recover": recover},
    })
    if recover:
        module.StreamableParser = _recovering_parser()
    return module


def install(*, recover: bool = False) -> types.ModuleType:
    """Make ``import openai_harmony`` give harmony_grammar in this process; the alias module.

    A second call returns the same module. It raises ``HarmonyError`` if a real
    ``openai_harmony`` is already imported, if the alias is already installed with
    another ``recover``, or (``recover=True``) if harmony_grammar's
    ``StreamableParser`` has no ``recover`` parameter.
    """
    current = sys.modules.get(NAME)
    if current is not None:
        mark = _ours(current)
        if mark is None:
            raise HarmonyError(f"{NAME} is already imported from {_origin(current)}; "
                               f"call harmony_grammar.compat.install() before anything imports {NAME}")
        if mark["recover"] != bool(recover):
            raise HarmonyError(f"{NAME} is already installed with recover={mark['recover']}; "
                               "call harmony_grammar.compat.uninstall() first to change it")
        return current
    module = _alias(bool(recover))
    sys.modules[NAME] = module
    return module


def uninstall() -> None:
    """Remove the alias from ``sys.modules`` if ``install`` put it there; anything else is left alone."""
    if _ours(sys.modules.get(NAME)) is not None:
        del sys.modules[NAME]
