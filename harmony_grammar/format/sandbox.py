"""A Jinja2 sandbox whose renders have a bounded cost: templates from strangers cannot exhaust the machine.

Jinja's own sandbox refuses attribute escapes (``''.__class__.__mro__``), but
lets a template build a string of any size or spin a loop of any length. This
one also refuses, as a ``SecurityError`` that the caller reports with the
template's file and line:

- ``*``, ``**``, ``+``, ``~`` and ``%`` whose result would exceed ``MAX_ITEMS``
  (characters, items or, for numbers, digits); the same for the methods and
  filters that make text longer (``str.replace``, ``join``, ``format``,
  ``translate`` and ``expandtabs``; the ``replace``, ``join``, ``format``,
  ``indent`` and ``wordwrap`` filters), for ``list.append``, ``insert`` and
  ``extend``, and for the output of a macro, a ``{% set %}`` block or a filter
  block. A string method or filter whose text still comes out past the limit
  and longer than its input (``encode``, ``hex``, escaping) is refused then,
  so that it goes no further;
- printing a value (``{{ [s] * 1000 }}``; ``~``, ``%`` and ``format`` arguments,
  ``join`` items, the ``string`` filter and the other filters that turn their
  value into text, ``tojson``) that would make more than ``MAX_ITEMS``
  characters, or that is nested more than ``MAX_DEPTH`` deep;
- string methods and filters asked for a width past ``MAX_ITEMS`` (the sizes
  of ``batch`` and ``slice`` among them);
- more than ``MAX_ITERATIONS`` iterations of ``range`` in one render;
- a render past ``MAX_SECONDS`` (checked at every call, operator and range
  step, and between output chunks) or past ``MAX_OUTPUT`` characters.

The sizes are checked before the work is done; what a value prints to is
estimated by :func:`printed_size`, which stops as soon as it passes the limit.
Strings the caller passes in may be longer than ``MAX_ITEMS``: they print, but
do not grow. Jinja's compiler never runs the bounded filters (it would, on
constants, outside the budget). Code compiled by another version of this
module would skip its checks: the renderer keeps its cache of compiled
templates per ``COMPILED_FORM``, a digest of this file.

    >>> env = BoundedSandbox()
    >>> env.from_string("{{ 'ab' * 3 }}").render()
    'ababab'
    >>> env.from_string("{{ 'a' * 10**9 }}").render()
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: 'a' * 1000000000 would make 1000000000 items (the limit is 4000000)
    >>> env.from_string("{% set s = 'ab' * 1500000 %}{{ s ~ s }}").render()
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: 'abababababababababa ~ ... would make 6000000 characters (the limit is 4000000)
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import threading
import time
import types
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from functools import update_wrapper
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import markup_join
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace, pass_context
from markupsafe import Markup

__all__ = ["BoundedSandbox", "BoundedCodeGenerator", "printed_size", "tojson", "MAX_ITEMS", "MAX_ITERATIONS",
           "MAX_SECONDS", "MAX_OUTPUT", "MAX_DEPTH", "COMPILED_FORM"]

MAX_ITEMS = 4_000_000
MAX_ITERATIONS = 1_000_000
MAX_SECONDS = 10.0
MAX_OUTPUT = 64_000_000
MAX_DEPTH = 200

_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"}
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "tojson", "batch", "slice")
# Filters that turn their value into text (str(), escape(), pformat(), json.dumps()).
_TEXT_FILTERS = ("string", "upper", "lower", "title", "capitalize", "trim", "striptags", "wordcount", "escape",
                 "e", "forceescape", "safe", "urlencode", "urlize", "pprint", "xmlattr", "center", "format", "tojson")
_TEXT_TESTS = ("lower", "upper")
# A width in a %-format (%-08d) or in a format spec ({:>8}, {0:08.2f}).
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d+)|\{[^{}:]*:[^{}\d]{0,3}(\d+)")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")
# One %-directive: its mapping key, width and precision; "%%" writes one character.
_PERCENT = re.compile(r"%%|%(?:\(([^)]*)\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")
_SEQUENCES = (str, bytes, list, tuple)
_NEVER = float("inf")
_PLAIN = frozenset([str, int, float, bool, type(None)])  # what prints short (or is printed as it is)


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


# -- what a value prints to ----------------------------------------------------------------------------


def printed_size(value: Any, limit: Optional[int] = None) -> int:
    """How many characters ``str(value)`` makes, without making it.

    Exact for strings, and for numbers, None and the containers a template can build or
    read (lists, tuples, sets, dicts and their views, namespaces) holding them, give or
    take a character; any other object counts as a few characters. The walk stops as
    soon as the count passes ``limit`` (``MAX_ITEMS`` by default) and returns the count
    so far, so it is cheap however large the value. A value nested more than
    ``MAX_DEPTH`` deep is refused (``SecurityError``), and so is a list that holds itself.

        >>> printed_size([1, 'ab', {'k': None}])
        22
        >>> printed_size(['a' * 4_000_000] * 1000) < 5_000_000
        True
    """
    if value.__class__ is str:
        return len(value)
    return _printed(value, MAX_ITEMS if limit is None else limit, 0, False)


def _printed(value: Any, budget: int, depth: int, quoted: bool, indent: Optional[int] = None, gap: int = 0) -> int:
    """``printed_size`` below the top: ``quoted`` strings print as their repr (or JSON); for JSON, each item
    of a container costs ``gap`` more characters (longer separators) and, with an ``indent``, a line of its own
    indented by ``indent`` characters per level."""
    if isinstance(value, str):
        return _quoted_size(value, budget) if quoted else len(value)
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        if value.bit_length() < 64:
            return len(str(value))
        return (value.bit_length() * 1233 >> 12) + 1 + (value < 0)  # 1233 / 4096 is about log10(2)
    if isinstance(value, float):
        return len(repr(value))
    if isinstance(value, (bytes, bytearray)):
        return 4 * len(value) + 3  # at most: b'...' with every byte escaped as \xNN
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        total = 0
    elif isinstance(value, Namespace):
        value = object.__getattribute__(value, "_Namespace__attrs")
        total = 12  # <Namespace {...}>
    elif isinstance(value, (KeysView, ValuesView, ItemsView)):
        total = len(type(value).__name__) + 2  # dict_keys([...])
    else:
        return len(type(value).__name__) + 2
    if depth >= MAX_DEPTH:
        raise SecurityError(f"a value nested more than {MAX_DEPTH} levels deep (the limit is {MAX_DEPTH})")
    count = len(value)
    if isinstance(value, dict):
        total += 4 * count if count else 2  # {k: v, k: v}
        items: Iterable[Any] = chain.from_iterable(value.items())
    else:
        total += 2 * count if count else 2  # [a, b]
        items = value
    total += count * gap
    if indent is not None and count:
        total += count * (1 + indent * (depth + 1)) + 1 + indent * depth  # a line per item, and the closing one
    for item in items:
        if total > budget:
            return total
        total += _printed(item, budget - total, depth + 1, True, indent, gap)
    return total


def _quoted_size(text: str, budget: int) -> int:
    """The length of ``repr(text)``."""
    size = len(text) + 2
    if size > budget:
        return size
    if text.isprintable():  # only backslashes, and single quotes when both kinds occur, are escaped
        size += text.count("\\")
        if "'" in text and '"' in text:
            size += text.count("'")
        return size
    return len(repr(text))


def _total(values: Iterable[Any], size: int = 0) -> tuple[int, bool]:
    """``size`` plus what each value prints to, stopping once past ``MAX_ITEMS``; and whether that is the
    whole count (every value a string or a number, none left uncounted)."""
    exact = True
    for value in values:
        if size > MAX_ITEMS:
            return size, False
        if value.__class__ is str:
            size += len(value)
        else:
            exact = exact and (value is None or isinstance(value, (str, int, float)))
            size += printed_size(value, MAX_ITEMS - size)
    return size, exact


def _too_long(what: str, size: int, exact: bool = True) -> SecurityError:
    at_least = "" if exact else "at least "
    return SecurityError(f"{what} would make {at_least}{size} characters (the limit is {MAX_ITEMS})")


def _refuse_printed(what: str, value: Any) -> None:
    """Refuse to turn a value that is not a string into more than ``MAX_ITEMS`` characters."""
    if not isinstance(value, str):
        size = printed_size(value)
        if size > MAX_ITEMS:
            raise _too_long(what, size, exact=False)


def _text(what: str, value: Any) -> str:
    """``str(value)``, refused past ``MAX_ITEMS`` characters."""
    if isinstance(value, str):
        return value
    _refuse_printed(what, value)
    return str(value)


def _show(value: Any, width: int = 20) -> str:
    """``f"{value!r:.20}"``, without making the whole repr of a long value."""
    if width <= 0:
        return ""
    if isinstance(value, str):
        return f"{value if len(value) <= 1000 else value[:1000]!r:.{width}}"
    try:
        small = printed_size(value, 1000) <= 1000
    except SecurityError:
        small = False
    if small:
        return f"{value!r:.{width}}"
    if isinstance(value, (list, tuple)):
        opening = "[" if isinstance(value, list) else "("
        return (opening + _show(value[0], width - 1) if value else opening)[:width]
    return f"<{type(value).__name__}>"[:width]


def _kind(value: Any) -> str:
    return "str" if isinstance(value, str) else "bytes"


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _refuse_replace(what: str, text: str, old: str, new: str, count: Any) -> None:
    """Refuse ``text.replace(old, new, count)`` when it would make more than ``MAX_ITEMS`` characters."""
    if len(new) > len(old):
        found = text.count(old)
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        size = len(text) + found * (len(new) - len(old))
        if size > MAX_ITEMS:
            raise _too_long(what, size)


def _refuse_translate(what: str, text: str, table: Any) -> None:
    """Refuse ``text.translate(table)`` when it would make more than ``MAX_ITEMS`` characters."""
    if isinstance(table, Mapping):
        entries: Iterable[tuple[Any, Any]] = table.items()
    elif isinstance(table, (list, tuple)):
        entries = enumerate(table)
    else:
        return
    longer = [(k, v) for k, v in entries if isinstance(k, int) and 0 <= k <= 0x10FFFF and isinstance(v, str)
              and len(v) > 1]
    if len(longer) > 256:  # too many to count one by one: as if every character took the longest
        size = len(text) * max(len(v) for _, v in longer)
    else:
        size = len(text) + sum(text.count(chr(k)) * (len(v) - 1) for k, v in longer)
    if size > MAX_ITEMS:
        raise _too_long(what, size)


def _refuse_join(what: str, separator: str, items: list[Any]) -> None:
    """Refuse to join ``items`` (as strings) with ``separator`` into more than ``MAX_ITEMS`` characters."""
    size, exact = _total(items, len(separator) * max(len(items) - 1, 0))
    if size > MAX_ITEMS:
        raise _too_long(what, size, exact)


def _percent_size(text: str, args: Any) -> tuple[int, bool]:
    """About how many characters ``text % args`` makes (the format, its widths and precisions, and what each
    argument prints to), and whether that is the whole count."""
    size = len(text)
    keys: list[str] = []
    stars = False
    for m in _PERCENT.finditer(text):
        key, width, precision = m.groups()
        for number in (width, precision):
            if number == "*":
                stars = True
            elif number:
                size += int(number) if len(number) <= 9 else MAX_ITEMS + 1
        if key is not None:
            keys.append(key)
    if keys and isinstance(args, Mapping):
        values: Iterable[Any] = (args[k] for k in keys if k in args)
    elif isinstance(args, tuple):
        values = args
        if stars:  # widths and precisions given as arguments
            size += sum(abs(a) for a in args if isinstance(a, int) and not isinstance(a, bool))
    else:
        values = (args,)
    return _total(values, size)


def tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
           sort_keys: bool = False) -> str:
    """transformers' ``tojson``: ``json.dumps`` with its options, refused (``SecurityError``) for an indent
    or separator past ``MAX_ITEMS`` characters, a value that would print past ``MAX_ITEMS`` characters, and
    output past ``MAX_OUTPUT`` characters.

        >>> tojson({'a': [1, None]}, separators=(',', ':'))
        '{"a":[1,null]}'
    """
    widths = []
    for what, width in (("an indent", indent), *(("a separator", s) for s in separators or ())):
        size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if size > MAX_ITEMS:
            raise SecurityError(f"tojson with {what} of {size} characters (the limit is {MAX_ITEMS})")
        widths.append(size)
    gap = max(0, sum(widths[1:]) - 4)  # longer separators than ", " and ": "
    size = _printed(value, MAX_ITEMS, 0, True, None if indent is None else max(0, widths[0]), gap)
    if size > MAX_ITEMS:
        raise _too_long("tojson", size, exact=False)
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent,
                      separators=tuple(separators) if separators is not None else None, sort_keys=sort_keys)
    if len(text) > MAX_OUTPUT:  # \u escapes (ensure_ascii) make more than the estimate
        raise SecurityError(f"tojson would write more than {MAX_OUTPUT} characters")
    return text


# -- the compiler --------------------------------------------------------------------------------------


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, writing ``a ~ b`` as a call to ``environment.call_concat``.

    Jinja folds constant expressions at compile time, outside every hook. The filters that can
    make long text take the context (see ``BoundedSandbox``), which keeps them from being folded,
    so what is folded, ``~`` among it, is made of the template's literals and grows only with its length.
    """

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.call_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        if frame.eval_ctx.volatile:
            self.write("), context.eval_ctx.autoescape)")
        elif frame.eval_ctx.autoescape:
            self.write("), True)")
        else:
            self.write("))")


class _BoundedFormatter(SandboxedFormatter):
    """``str.format``'s formatter, counting what the fields write and refusing past ``MAX_ITEMS``."""

    def __init__(self, env: Any, what: str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._what = what
        self._written = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._written = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: Optional[str]) -> Any:
        if conversion is not None:  # !r, !s, !a make the text here; format_field counts it
            self._count(value, "", keep=False)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._count(value, format_spec, keep=True)
        return super().format_field(value, format_spec)

    def _count(self, value: Any, format_spec: str, keep: bool) -> None:
        """Refuse a field that would take the text past ``MAX_ITEMS``: what the value prints to, plus the
        widths and precision of its spec."""
        size = self._written + sum(int(n) if len(n) <= 9 else MAX_ITEMS + 1 for n in _NUMBER.findall(format_spec))
        size += printed_size(value, MAX_ITEMS - size)
        if size > MAX_ITEMS:
            raise _too_long(self._what, size, exact=False)
        if keep:
            self._written = size


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    """The same for ``Markup.format``."""


# What the code this sandbox compiles depends on (its code generator, operators and filter signatures):
# a cache of compiled templates is kept per value of it (see templating._bytecode_cache).
COMPILED_FORM = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


# -- the environment -----------------------------------------------------------------------------------


class BoundedSandbox(SandboxedEnvironment):
    """``SandboxedEnvironment`` with a budget per render: size, iterations and time (see the module)."""

    intercepted_binops = frozenset(["*", "**", "%", "+"])
    code_generator_class = BoundedCodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._budget = threading.local()  # one environment serves every thread; each render has its own budget
        self.globals["range"] = self._range
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        for name in dict.fromkeys(_WIDTH_FILTERS + _TEXT_FILTERS):
            self.filters[name] = self._bounded_filter(name, self.filters[name])
        self.filters["replace"] = self._replace_filter(self.filters["replace"])
        self.filters["join"] = self._join_filter(self.filters["join"])
        for name in _TEXT_TESTS:
            self.tests[name] = self._bounded_test(name, self.tests[name])
        self.finalize = self._finalizer(self.finalize)

    # -- the budget of one render ----------------------------------------------------------------

    def start(self) -> None:
        """Begin a render in this thread: the clock and the iteration count start again."""
        self._budget.deadline = time.monotonic() + MAX_SECONDS
        self._budget.iterations = 0

    def tick(self) -> None:
        if time.monotonic() > getattr(self._budget, "deadline", _NEVER):
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
        if op == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES) and len(left) + len(right) > MAX_ITEMS:
                raise SecurityError(f"{_show(left)} + ... would make {len(left) + len(right)} items "
                                    f"(the limit is {MAX_ITEMS})")
            return left + right
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_ITEMS:
                    raise SecurityError(f"{_show(seq)} * {n} would make {len(seq) * n} items (the limit is {MAX_ITEMS})")
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
            size, exact = _percent_size(left, right)
            if size > MAX_ITEMS:
                raise _too_long("%-formatting", size, exact)
        return operator.mod(left, right)

    def call_concat(self, parts: tuple[Any, ...], markup: bool = False) -> str:
        """``a ~ b ~ ...``: the parts as strings, joined (escaped as Jinja does when ``markup``); refused
        when that would make more than ``MAX_ITEMS`` characters."""
        size = 0
        for part in parts:
            if part.__class__ is not str:
                break
            size += len(part)
        else:
            if size <= MAX_ITEMS and not markup:
                return "".join(parts)
        size, exact = _total(parts)
        if size > MAX_ITEMS:
            raise _too_long(f"{_show(parts[0])} ~ ...", size, exact)
        if not markup:
            return "".join(map(str, parts))
        text = markup_join(parts)
        if len(text) > MAX_ITEMS:  # escaping made it longer
            raise _too_long(f"{_show(parts[0])} ~ ...", len(text))
        return text

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        """Jinja's join of output (a macro, a ``{% set %}`` or filter block, ``render()``), refused past
        ``MAX_ITEMS`` characters."""
        if pieces.__class__ is list:
            size = sum(map(len, pieces))
        else:  # render()'s generator, counted as it runs
            taken: list[str] = []
            size = 0
            for piece in pieces:
                size += len(piece)
                if size > MAX_ITEMS:
                    raise _too_long("the output of a template, macro or block", size, exact=False)
                taken.append(piece)
            pieces = taken
        if size > MAX_ITEMS:
            raise _too_long("the output of a template, macro or block", size)
        return "".join(pieces)

    def _finalizer(self, given: Optional[Callable[..., Any]]) -> Callable[..., Any]:
        """The ``finalize`` hook: what a ``{{ ... }}`` prints, refused past ``MAX_ITEMS`` characters (after
        the ``finalize`` the environment was given, if any)."""

        def finalize(value: Any) -> Any:
            if value.__class__ not in _PLAIN and not isinstance(value, str):
                size = printed_size(value)
                if size > MAX_ITEMS:
                    raise _too_long(f"printing {_show(value)}", size, exact=False)
            return value

        if given is None:
            return finalize

        def chained(*args: Any) -> Any:
            return finalize(given(*args))

        if hasattr(given, "jinja_pass_arg"):
            chained.jinja_pass_arg = given.jinja_pass_arg  # type: ignore[attr-defined]
        return chained

    def wrap_str_format(self, value: Any) -> Any:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map") or not isinstance(value.__self__, str):
            return None
        text, name = value.__self__, value.__name__
        what = f"str.{name}"
        _refuse_width(what, [text])
        nested = _NESTED_FIELD.search(text) is not None  # a width taken from the arguments
        formatter = (_BoundedEscapeFormatter(self, what, escape=text.escape) if isinstance(text, Markup)
                     else _BoundedFormatter(self, what))

        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            if nested:
                found = [*args, *kwargs.values()] + [v for a in args if isinstance(a, dict) for v in a.values()]
                _refuse_width(what, [v for v in found if isinstance(v, int)])
            if name == "format_map":  # as str.format_map
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))

        return update_wrapper(bounded, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes, bytearray)):
            args = __self._refuse_text_method(owner, __obj.__name__, args, kwargs)
            result = super().call(__context, __obj, *args, **kwargs)
            if isinstance(result, (str, bytes, bytearray)) and len(result) > MAX_ITEMS and len(result) > len(owner):
                # a growth no check foresaw (encode, hex), refused so that it goes no further
                raise _too_long(f"{_kind(owner)}.{__obj.__name__}", len(result))
            return result
        if isinstance(owner, list) and getattr(__obj, "__name__", "") in ("append", "insert", "extend"):
            name = __obj.__name__
            if name == "extend" and args and not isinstance(args[0], (list, tuple)):
                args = (list(args[0]), *args[1:])
            size = len(owner) + (len(args[0]) if name == "extend" and args else 1)
            if size > MAX_ITEMS:
                raise SecurityError(f"list.{name} would make {size} items (the limit is {MAX_ITEMS})")
        return super().call(__context, __obj, *args, **kwargs)

    @staticmethod
    def _refuse_text_method(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Refuse a call of ``owner.name`` (a str or bytes method) that would pass ``MAX_ITEMS``; the
        arguments to call it with (a join's items, taken from an iterator once)."""
        # (the keywords include Jinja's _loop_vars and _block_vars, which Context.call takes out)
        kind = str if isinstance(owner, str) else (bytes, bytearray)
        if name in _WIDTH_METHODS:
            what = f"{_kind(owner)}.{name}"
            _refuse_width(what, [owner, *args, *kwargs.values()])
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if name == "expandtabs" and isinstance(tabsize, int) and tabsize > 1:
                size = len(owner) + owner.count("\t" if kind is str else b"\t") * (tabsize - 1)
                if size > MAX_ITEMS:
                    raise _too_long(what, size)
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], kind) and isinstance(args[1], kind):
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            _refuse_replace(f"{_kind(owner)}.replace", owner, args[0], args[1], count)
        elif name == "join" and len(args) == 1:
            items = args[0] if isinstance(args[0], (list, tuple)) else list(args[0])
            size = len(owner) * max(len(items) - 1, 0) + sum(len(i) for i in items if isinstance(i, kind))
            if size > MAX_ITEMS:
                raise _too_long(f"{_kind(owner)}.join", size)
            return (items,)
        elif name == "translate" and kind is str and len(args) == 1:
            _refuse_translate("str.translate", owner, args[0])
        return args

    def _bounded_filter(self, name: str, real: Any) -> Any:
        """``real``, refusing the widths past ``MAX_ITEMS`` it is given, a value that would turn into more
        than ``MAX_ITEMS`` characters of text, and text it would make longer than that."""
        what = f"the {name} filter"
        widths = name in _WIDTH_FILTERS
        text = name in _TEXT_FILTERS

        def check(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            if widths:
                _refuse_width(what, [*args, *kwargs.values()])
            if text:
                _refuse_printed(what, value)
            if name == "format":
                size, exact = _percent_size(str(value), kwargs or args)
                if size > MAX_ITEMS:
                    raise _too_long(what, size, exact)
            elif name == "indent" and isinstance(value, str):
                width = args[0] if args else kwargs.get("width", 4)
                width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
                size = len(value) + (value.count("\n") + 1) * width
                if size > MAX_ITEMS:
                    raise _too_long(what, size)
            elif name == "wordwrap" and isinstance(value, str):
                wrapstring = args[2] if len(args) > 2 else kwargs.get("wrapstring")
                width = args[0] if args else kwargs.get("width", 79)
                if isinstance(wrapstring, str) and len(wrapstring) > 1 and isinstance(width, int):
                    lines = len(value) // max(width, 1) + sum(value.count(c) for c in " \t\n-") + 1  # at most
                    size = len(value) + lines * len(wrapstring)
                    if size > MAX_ITEMS:
                        raise _too_long(what, size)
            return value, args, kwargs

        return self._in_context(what, real, check)

    def _replace_filter(self, real: Any) -> Any:
        what = "the replace filter"

        def check(context: Any, s: Any, old: Any, new: Any, count: Optional[int] = None) -> Any:
            _refuse_replace(what, _text(what, s), _text(what, old), _text(what, new), count)
            return s, (old, new, count), {}

        return self._in_context(what, real, check)

    def _join_filter(self, real: Any) -> Any:
        what = "the join filter"

        def check(context: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
            if attribute is not None:
                value = map(make_attrgetter(context.environment, attribute), value)
            items = value if isinstance(value, list) else list(value)
            _refuse_join(what, _text(what, d), items)
            return items, (d,), {}

        return self._in_context(what, real, check)

    def _in_context(self, what: str, real: Any, check: Callable[..., tuple[Any, tuple[Any, ...], dict[str, Any]]]
                    ) -> Any:
        """The filter ``real``, after ``check(context, value, *args, **kwargs)`` returns what to call it with;
        refused when the text it makes is longer than ``MAX_ITEMS`` characters and than its value.

        It takes the context, as a filter that Jinja cannot run at compile time (outside the budget)."""
        pass_arg = getattr(getattr(real, "jinja_pass_arg", None), "name", None)

        @pass_context
        def bounded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            self.tick()
            value, args, kwargs = check(context, value, *args, **kwargs)
            if pass_arg == "eval_context":
                result = real(context.eval_ctx, value, *args, **kwargs)
            elif pass_arg == "environment":
                result = real(context.environment, value, *args, **kwargs)
            elif pass_arg == "context":
                result = real(context, value, *args, **kwargs)
            else:
                result = real(value, *args, **kwargs)
            if isinstance(result, str) and len(result) > MAX_ITEMS and len(result) > _length(value):
                raise _too_long(what, len(result))  # escaping, or a growth no check foresaw
            return result

        return update_wrapper(bounded, real, updated=())  # keeps the name and doc, not the pass_arg

    def _bounded_test(self, name: str, real: Any) -> Any:
        def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
            _refuse_printed(f"the {name} test", value)
            return real(value, *args, **kwargs)

        return bounded
