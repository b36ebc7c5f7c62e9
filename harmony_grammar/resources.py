"""Where the format's data files live: inside the installed package, or beside it in a checkout."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from harmony_grammar.errors import HarmonyError

__all__ = ["data_dir", "load_json", "cache_dir", "package_version", "CACHE_ENV_VAR"]

CACHE_ENV_VAR = "HARMONY_GRAMMAR_CACHE"

_PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def data_dir(name: str) -> Path:
    """Return the folder ``grammar`` or ``templates``.

    A wheel carries them inside the package; a source checkout keeps them at
    the repository root, next to the package.
    """
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise HarmonyError(f"data folder {name!r} not found next to {_PACKAGE}")


def load_json(folder: str, *parts: str) -> Any:
    """Read a JSON data file, naming the file and position if it is malformed."""
    path = data_dir(folder).joinpath(*parts)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarmonyError(f"cannot read data file {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarmonyError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def cache_dir(kind: str) -> Optional[Path]:
    """Where compiled forms of the data files (``kind``: grammar tables, template code) are kept, or None.

    ``$HARMONY_GRAMMAR_CACHE`` names the folder, and an empty value turns caching off; the
    default is ``harmony-grammar`` in the user's cache folder. Every entry is keyed by a hash
    of its source, so an edited grammar or template is compiled again.
    """
    chosen = os.environ.get(CACHE_ENV_VAR)
    if chosen is not None:
        return Path(chosen) / kind if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "harmony-grammar" / kind


def package_version() -> str:
    """The installed harmony-grammar's version, or a word saying why there is none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("harmony-grammar")
    except PackageNotFoundError:
        return "unknown (not installed)"
