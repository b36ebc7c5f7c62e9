"""A Jinja2 sandbox whose renders have a bounded cost: templates from strangers cannot exhaust the machine.

Jinja's own sandbox refuses attribute escapes (``''.__class__.__mro__``), but
lets a template build a string of any size or spin a loop of any length. This
one also refuses, as a ``SecurityError`` that the caller reports with the
template's file and line:

- ``*``, ``**`` and ``%`` whose result would exceed ``MAX_ITEMS`` (characters,
  items or, for numbers, digits);
- string methods and filters asked for a width past ``MAX_ITEMS``;
- more than ``MAX_ITERATIONS`` iterations of ``range`` in one render;
- a render past ``MAX_SECONDS`` (checked at every call, operator and range
  step, and between output chunks) or past ``MAX_OUTPUT`` characters.

    >>> env = BoundedSandbox()
    >>> env.from_string("{{ 'ab' * 3 }}").render()
    'ababab'
    >>> env.from_string("{{ 'a' * 10**9 }}").render()
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: 'a' * 1000000000 would make 1000000000 items (the limit is 4000000)
"""

from __future__ import annotations

import operator
import re
import threading
import time
from typing import Any, Iterator

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["BoundedSandbox", "MAX_ITEMS", "MAX_ITERATIONS", "MAX_SECONDS", "MAX_OUTPUT"]

MAX_ITEMS = 4_000_000
MAX_ITERATIONS = 1_000_000
MAX_SECONDS = 10.0
MAX_OUTPUT = 64_000_000

_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"}
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "format")
# A width in a %-format (%-08d) or in a format spec ({:>8}, {0:08.2f}).
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d+)|\{[^{}:]*:[^{}\d]{0,3}(\d+)")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, abs(value)).bit_length() // 3 + 1  # decimal digits, roughly
    return 1


def _refuse_width(what: str, values: Any) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ITEMS:
            raise SecurityError(f"{what} with width {value} (the limit is {MAX_ITEMS})")
        if isinstance(value, str):
            for m in _FORMAT_WIDTH.finditer(value):
                width = m.group(1) or m.group(2)
                if int(width) > MAX_ITEMS:
                    raise SecurityError(f"{what} with width {width} (the limit is {MAX_ITEMS})")


class BoundedSandbox(SandboxedEnvironment):
    """``SandboxedEnvironment`` with a budget per render: size, iterations and time (see the module)."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._budget = threading.local()  # one environment serves every thread; each render has its own budget
        self.globals["range"] = self._range
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        for name in _WIDTH_FILTERS:
            self.filters[name] = self._bounded_filter(name, self.filters[name])

    # -- the budget of one render ----------------------------------------------------------------

    def start(self) -> None:
        """Begin a render in this thread: the clock and the iteration count start again."""
        self._budget.deadline = time.monotonic() + MAX_SECONDS
        self._budget.iterations = 0

    def tick(self) -> None:
        if time.monotonic() > getattr(self._budget, "deadline", float("inf")):
            raise SecurityError(f"the render took longer than {MAX_SECONDS:g} s")

    def collect(self, chunks: Iterator[str]) -> str:
        """Join a template's output, stopping past ``MAX_OUTPUT`` characters or the time limit."""
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise SecurityError(f"the render is longer than {MAX_OUTPUT} characters")
            self.tick()
            out.append(chunk)
        return "".join(out)

    # -- the hooks -----------------------------------------------------------------------------------

    def _range(self, *args: int) -> Iterator[int]:
        count = len(range(*args))
        done = getattr(self._budget, "iterations", 0)
        if done + count > MAX_ITERATIONS:
            raise SecurityError(f"range of {count} items would pass {MAX_ITERATIONS} iterations in one render")
        self._budget.iterations = done + count
        for i, value in enumerate(range(*args)):
            if i % 4096 == 0:
                self.tick()
            yield value

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        self.tick()
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_ITEMS:
                    raise SecurityError(f"{seq!r:.20} * {n} would make {len(seq) * n} items (the limit is {MAX_ITEMS})")
            if isinstance(left, int) and isinstance(right, int) and _size(left) + _size(right) > MAX_ITEMS:
                raise SecurityError(f"a product of {_size(left) + _size(right)} digits (the limit is {MAX_ITEMS})")
            return operator.mul(left, right)
        if op == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                digits = abs(left).bit_length() * right // 3
                if digits > MAX_ITEMS:
                    raise SecurityError(f"{left} ** {right} would have about {digits} digits "
                                        f"(the limit is {MAX_ITEMS})")
            return operator.pow(left, right)
        if isinstance(left, str):
            _refuse_width("%-formatting", [left])
        return operator.mod(left, right)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _refuse_width(f"str.{value.__name__}", [value.__self__])
        nested = _NESTED_FIELD.search(value.__self__) is not None  # a width taken from the arguments

        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            if nested:
                found = [*args, *kwargs.values()] + [v for a in args if isinstance(a, dict) for v in a.values()]
                _refuse_width(f"str.{value.__name__}", [v for v in found if isinstance(v, int)])
            return wrapped(*args, **kwargs)

        return bounded

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.tick()
        if getattr(__obj, "__self__", None).__class__ is str and getattr(__obj, "__name__", "") in _WIDTH_METHODS:
            _refuse_width(f"str.{__obj.__name__}", [__obj.__self__, *args, *kwargs.values()])
        return super().call(__context, __obj, *args, **kwargs)

    def _bounded_filter(self, name: str, real: Any) -> Any:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            _refuse_width(f"the {name} filter", [*args[1:], *kwargs.values()])
            return real(*args, **kwargs)

        for attr in ("jinja_pass_arg",):
            if hasattr(real, attr):
                setattr(bounded, attr, getattr(real, attr))
        return bounded
