"""Check a Hugging Face chat template against the renderer, case by case.

Each :class:`Case` is rendered twice: by ``encoding.apply_chat_template`` (the
chat bridge and the harmony templates: the expected text) and by the chat
template, as transformers would render it (:func:`render_chat_template`).
Each :class:`CaseResult` is one of ``STATUSES``:

- ``identical``: the same text, or the bridge refuses the input and the template
  refuses it too, through ``raise_exception`` (``refused`` holds the bridge's
  reason, ``message`` the template's);
- ``differs``: a difference of one of ``KINDS``. For texts that differ it gives
  the first differing character, some context of both texts there, and the
  harmony special token the difference is at (the differing part of either text
  begins in it, or with it after whitespace) or else comes after;
- ``raised``: the template failed (``raise_exception`` or any error) where the
  bridge renders, or failed otherwise than by ``raise_exception`` where it refuses.

    >>> from harmony_grammar import load_harmony_encoding
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> case = Case("hi", "a user message", [{"role": "user", "content": "Hi"}],
    ...             kwargs={"conversation_start_date": "2025-06-28"})
    >>> [r.describe() for r in check_template("{{ raise_exception('no') }}", enc, [case], filename="t.jinja")]
    ['raised: t.jinja:1: raise_exception: no']
    >>> [r.describe() for r in check_template("<|start|>system<|message|>Hi", enc, [case])]
    ["differs at character 26: changed text after <|message|>: expected 'essage|>You are ChatGPT,' got 'essage|>Hi'"]

The built-in cases (:func:`load_cases`) are ``examples/chat_cases.json``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from harmony_grammar.errors import HarmonyError
from harmony_grammar.integrations.chat_template.environment import (
    TemplateRaised,
    compile_chat_template,
    render_chat_template,
)
from harmony_grammar.resources import data_dir

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["Case", "CaseResult", "check_template", "check_case", "load_cases", "summarize", "summary_line", "STATUSES",
           "KINDS", "CONTEXT_BEFORE", "CONTEXT_AFTER", "REALIGN", "LOOKAHEAD"]

STATUSES = ("identical", "differs", "raised")

# The kinds of difference. For texts that differ, at the first difference: the template leaves out text
# the renderer writes (missing: the texts agree again once the renderer's text skips it), writes text
# the renderer does not (extra: the same, the other way), or writes other text in its place (changed).
MISSING, EXTRA, CHANGED, RENDERS_REFUSED = ("missing text", "extra text", "changed text",
                                            "renders an input the bridge refuses")
KINDS = (MISSING, EXTRA, CHANGED, RENDERS_REFUSED)

# How much of each text a difference shows: characters before and after the first differing one.
CONTEXT_BEFORE = 8
CONTEXT_AFTER = 16
# Texts agree again after a difference when this many characters (or both their rests) match, within
# this many characters of the first difference.
REALIGN = 8
LOOKAHEAD = 4096

_SPECIAL = re.compile(r"<\|[^|<>\s]{1,64}\|>")


@dataclass(frozen=True)
class Case:
    """One input of ``apply_chat_template``: messages, tools, ``add_generation_prompt`` and the keywords.

    ``refused`` is the bridge's message when the case is meant to be refused;
    ``contains`` and ``lacks`` are texts the bridge's render must and must not hold
    (they keep a case honest about what it ``covers``).
    """

    name: str
    covers: str
    messages: list[Any]
    tools: Optional[list[Any]] = None
    add_generation_prompt: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)
    refused: Optional[str] = None
    contains: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, where: str) -> "Case":
        """A case from its JSON object; a malformed one is a ``HarmonyError`` naming ``where`` and the field."""
        if not isinstance(data, dict):
            raise HarmonyError(f"{where}: expected a case object, found {_kind(data)}")
        known = {"name", "covers", "messages", "tools", "add_generation_prompt", "kwargs", "refused", "contains",
                 "lacks"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HarmonyError(f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")

        def need(key: str, types: Union[type, tuple[type, ...]], what: str, default: Any = ...) -> Any:
            if key not in data and default is not ...:
                return default
            value = data.get(key)
            if not isinstance(value, types) or (key == "name" and not value):
                raise HarmonyError(f"{where}.{key}: expected {what}, found {_kind(value)}")
            return value

        def texts(key: str) -> tuple[str, ...]:
            value = need(key, list, "a list of strings", [])
            if not all(isinstance(v, str) for v in value):
                raise HarmonyError(f"{where}.{key}: expected a list of strings")
            return tuple(value)

        return cls(
            name=need("name", str, "a non-empty string"),
            covers=need("covers", str, "a string"),
            messages=need("messages", list, "a list of messages"),
            tools=need("tools", (list, type(None)), "a list of tools or null", None),
            add_generation_prompt=need("add_generation_prompt", bool, "true or false", True),
            kwargs=need("kwargs", dict, "an object of keyword arguments", {}),
            refused=need("refused", (str, type(None)), "the bridge's error message", None),
            contains=texts("contains"),
            lacks=texts("lacks"),
        )


@dataclass(frozen=True)
class CaseResult:
    """How a case came out: ``status`` (one of ``STATUSES``) and what shows it.

    ``kind`` (one of ``KINDS``) is set when ``status`` is ``differs``; ``index`` is the first differing
    character, ``expected`` and ``got`` the texts around it (the renderer's and the template's), and
    ``token`` the special token the difference is ``at`` or comes ``after`` (``near``). ``message`` is
    the template's error or ``raise_exception`` message, ``refused`` the bridge's reason for refusing.
    ``expected_text`` and ``got_text`` are the whole renders, when there are any.
    """

    case: Case
    status: str
    kind: Optional[str] = None
    index: Optional[int] = None
    expected: Optional[str] = None
    got: Optional[str] = None
    token: Optional[str] = None
    near: Optional[str] = None
    message: Optional[str] = None
    refused: Optional[str] = None
    expected_text: Optional[str] = field(default=None, repr=False)
    got_text: Optional[str] = field(default=None, repr=False)

    def describe(self) -> str:
        """One line: ``identical``, ``differs at character N: KIND: expected '...' got '...'`` or ``raised: MESSAGE``."""
        if self.status == "identical":
            return "identical" if self.refused is None else f"identical (refused by both: {self.message})"
        if self.status == "raised":
            also = "" if self.refused is None else f" (the bridge refuses this input too: {self.refused})"
            return f"raised: {self.message}{also}"
        if self.kind == RENDERS_REFUSED:
            return f"differs: {self.kind}: {self.refused}"
        where = f" {self.near} {self.token}" if self.token else ""
        return f"differs at character {self.index}: {self.kind}{where}: expected {self.expected!r} got {self.got!r}"

    def to_json(self) -> dict[str, Any]:
        """The result as JSON data: the case's name and what it covers, and every field but the whole texts."""
        return {"name": self.case.name, "covers": self.case.covers, "status": self.status, "kind": self.kind,
                "index": self.index, "expected": self.expected, "got": self.got, "token": self.token,
                "near": self.near, "message": self.message, "refused": self.refused,
                "description": self.describe()}


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def load_cases(path: Union[str, Path, None] = None) -> list[Case]:
    """The cases in ``path``, by default the built-in ``examples/chat_cases.json``; each name is unique."""
    source = Path(path) if path is not None else data_dir("examples") / "chat_cases.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarmonyError(f"cannot read {source}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise HarmonyError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    items = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise HarmonyError(f"{source}: expected an object with a list of cases under \"cases\"")
    cases = [Case.from_json(item, f"{source}: cases[{i}]") for i, item in enumerate(items)]
    seen: set[str] = set()
    for i, case in enumerate(cases):
        if case.name in seen:
            raise HarmonyError(f"{source}: cases[{i}].name: {case.name!r} is the name of an earlier case")
        seen.add(case.name)
    return cases


def _specials(text: str, known: set[str]) -> list[tuple[int, int, str]]:
    """The special tokens spelled in ``text``: (start, end, token), in order."""
    return [(m.start(), m.end(), m.group()) for m in _SPECIAL.finditer(text) if m.group() in known]


def _skipped(longer: str, shorter: str, n: int) -> Optional[int]:
    """How many characters of ``longer`` from ``n`` on the other text leaves out before the two agree again
    (for ``REALIGN`` characters, or to both their ends), up to ``LOOKAHEAD``; None if they do not."""
    rest = shorter[n:]
    if not rest:
        return len(longer) - n
    probe = rest[:REALIGN]
    for k in range(1, min(LOOKAHEAD, len(longer) - n) + 1):
        if longer.startswith(probe, n + k) and (len(probe) == REALIGN or len(longer) - n - k == len(rest)):
            return k
    return None


def _difference(case: Case, expected: str, got: str, known: set[str]) -> CaseResult:
    """The result for two texts that differ: the first difference's place, kind and nearest special token."""
    n = 0
    limit = min(len(expected), len(got))
    while n < limit and expected[n] == got[n]:
        n += 1
    missing, extra = _skipped(expected, got, n), _skipped(got, expected, n)
    # The differing part of each text, as far as the first difference goes.
    if missing is not None and (extra is None or missing <= extra):
        kind, parts = MISSING, {"expected": n + missing, "got": n}
    elif extra is not None:
        kind, parts = EXTRA, {"expected": n, "got": n + extra}
    else:
        kind, parts = CHANGED, {"expected": n + CONTEXT_AFTER, "got": n + CONTEXT_AFTER}
    token = near = None
    for name, text in (("expected", expected), ("got", got)):
        end = min(parts[name], len(text))
        if end <= n:
            continue
        part = text[n:end]
        first = n + len(part) - len(part.lstrip())
        # A token the differing part begins in, or begins with (after whitespace).
        token = next((spelled for start, stop, spelled in _specials(text, known)
                      if start <= n < stop or (start == first < end)), None)
        if token is not None:
            near = "at"
            break
    if token is None:
        before = [spelled for start, _, spelled in _specials(expected[:n], known)]
        if before:
            token, near = before[-1], "after"
    start = max(0, n - CONTEXT_BEFORE)
    return CaseResult(case, "differs", kind=kind, index=n, expected=expected[start:n + CONTEXT_AFTER],
                      got=got[start:n + CONTEXT_AFTER], token=token, near=near, expected_text=expected,
                      got_text=got)


def check_case(source: str, encoding: "HarmonyEncoding", case: Case, *, filename: str = "<template>") -> CaseResult:
    """Render one case through the bridge and through the template, and compare (see the module)."""
    refused: Optional[str] = None
    expected: Optional[str] = None
    try:
        expected = str(encoding.apply_chat_template(copy.deepcopy(case.messages), copy.deepcopy(case.tools),
                                                    add_generation_prompt=case.add_generation_prompt,
                                                    tokenize=False, **copy.deepcopy(case.kwargs)))
    except HarmonyError as exc:
        refused = str(exc)
    try:
        got = render_chat_template(source, case.messages, case.tools, add_generation_prompt=case.add_generation_prompt,
                                   filename=filename, **case.kwargs)
    except TemplateRaised as exc:
        if refused is not None:
            return CaseResult(case, "identical", message=exc.message, refused=refused)
        return CaseResult(case, "raised", message=str(exc), expected_text=expected)
    except HarmonyError as exc:
        return CaseResult(case, "raised", message=str(exc), refused=refused, expected_text=expected)
    if expected is None:
        return CaseResult(case, "differs", kind=RENDERS_REFUSED, refused=refused, got_text=got)
    if got == expected:
        return CaseResult(case, "identical", expected_text=expected, got_text=got)
    return _difference(case, expected, got, encoding.special_tokens_set)


def check_template(source: str, encoding: "HarmonyEncoding", cases: Optional[Sequence[Case]] = None, *,
                   filename: str = "<template>") -> list[CaseResult]:
    """Every case's result, in order (the built-in cases when ``cases`` is None).

    A template that does not compile is a ``ChatTemplateError`` (``FILE:LINE: template syntax
    error: ...``) before any case runs; anything else it does is a case's result.
    """
    compile_chat_template(source, filename)
    return [check_case(source, encoding, case, filename=filename)
            for case in (load_cases() if cases is None else cases)]


def summarize(results: Sequence[CaseResult]) -> dict[str, int]:
    """How many cases there were, and how many are identical, differ and raised."""
    count = {status: sum(r.status == status for r in results) for status in STATUSES}
    return {"cases": len(results), "identical": count["identical"], "differ": count["differs"],
            "raised": count["raised"]}


def summary_line(results: Sequence[CaseResult]) -> str:
    """``N cases: X identical, Y differ, Z raised``."""
    s = summarize(results)
    return (f"{s['cases']} case{'' if s['cases'] == 1 else 's'}: {s['identical']} identical, {s['differ']} differ, "
            f"{s['raised']} raised")

