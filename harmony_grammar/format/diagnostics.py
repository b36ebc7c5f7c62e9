"""The one table of diagnostics (``grammar/checks.json``) and the :class:`Diagnostic` type.

The validator reports on transcripts with it, and recovery reports what it
repaired in model output::

    >>> d = diagnostic("R001", token=7, span=(7, 8), found="<|return|>")
    >>> d.format()
    '<tokens>:token 7: warning: stop token <|return|> where <|start|> is due: dropped [R001]'
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Optional

from harmony_grammar.resources import load_json

__all__ = ["Diagnostic", "diagnostic", "diagnostic_specs"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem: severity, stable code, message, and where.

    Text has ``line`` and ``column``; token ids have ``token`` (the index). ``span``,
    a half-open token range, marks tokens that recovery placed in no message.
    """

    severity: str
    code: str
    message: str
    line: Optional[int] = None
    column: Optional[int] = None
    token: Optional[int] = None
    path: Optional[str] = None
    span: Optional[tuple[int, int]] = None

    def format(self) -> str:
        """GCC style: ``PATH:LINE:COL: error: MESSAGE [CODE]`` (``PATH:token N:`` for token ids)."""
        path = self.path or ("<tokens>" if self.token is not None else "<text>")
        if self.line is not None:
            where = f"{path}:{self.line}:{self.column}"
        elif self.token is not None:
            where = f"{path}:token {self.token}"
        else:
            where = path
        return f"{where}: {self.severity}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if "span" in out:
            out["span"] = list(out["span"])
        return out


_specs: Optional[dict[str, dict[str, str]]] = None
_lock = threading.Lock()


def diagnostic_specs() -> dict[str, dict[str, str]]:
    """Every code's severity, title and message template, from ``grammar/checks.json``."""
    global _specs
    if _specs is None:
        with _lock:
            if _specs is None:
                _specs = dict(load_json("grammar", "checks.json")["diagnostics"])
    return _specs


def diagnostic(code: str, *, line: Optional[int] = None, column: Optional[int] = None,
               token: Optional[int] = None, path: Optional[str] = None,
               span: Optional[tuple[int, int]] = None, **fields: Any) -> Diagnostic:
    """The diagnostic ``code`` with its message filled in from ``fields``."""
    spec = diagnostic_specs()[code]
    return Diagnostic(spec["severity"], code, spec["message"].format(**fields), line=line, column=column,
                      token=token, path=path, span=span)
