"""The Jinja2 side of rendering: a sandboxed environment over the template folders, and its helpers.

Templates produce text. Where a template must emit a special token (the header
layout), it calls ``special("<|channel|>")``; ``brk`` ends one piece of text and
starts another, because the reference encodes header fields separately and
tokenization depends on where the pieces start. Both are markers carrying a
random per-process nonce, so no user-supplied text can forge them:

    >>> t = TemplateSet.default()
    >>> pieces = t.split(t.markers.special("<|start|>") + "user" + t.markers.brk + ":bob")
    >>> pieces
    [Special(text='<|start|>'), 'user', ':bob']
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

if TYPE_CHECKING:
    import jinja2

from harmony_grammar.errors import HarmonyError
from harmony_grammar.resources import cache_dir, data_dir

__all__ = ["Special", "Markers", "TemplateSet", "rust_lines", "serde_json_text", "dialects", "DEFAULT_DIALECT",
           "template_files", "export_templates", "template_failures"]

DEFAULT_DIALECT = "oss-harmony"


def dialects() -> list[str]:
    """The dialects shipped with the package (folders of ``templates/dialects``)."""
    return sorted(p.name for p in (data_dir("templates") / "dialects").iterdir() if (p / "dialect.json").is_file())


class Special(NamedTuple):
    """A special token emitted by a template, by its text."""

    text: str


class Markers:
    """Unforgeable in-band markers for special tokens and piece breaks."""

    def __init__(self) -> None:
        nonce = secrets.token_hex(12)
        self._prefix = f"\x00{nonce}"
        self.brk = f"{self._prefix}\x00"
        self._split = re.compile(re.escape(self._prefix) + "(?:\x01([^\x00]*))?\x00")

    def special(self, text: str) -> str:
        """The marker for special token ``text`` (checked against the token table when split)."""
        return f"{self._prefix}\x01{text}\x00"

    def split(self, rendered: str) -> list[str | Special]:
        """Split template output into text pieces and special tokens; empty pieces are dropped."""
        parts = self._split.split(rendered)
        out: list[str | Special] = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                if part:
                    out.append(part)
            elif part is not None:
                out.append(Special(part))
        return out


def rust_lines(text: str) -> list[str]:
    """Split like Rust's ``str::lines``: at ``\\n`` or ``\\r\\n``; a final line ending adds no empty line.

    >>> rust_lines("a\\r\\nb\\n")
    ['a', 'b']
    >>> rust_lines("x\\r")
    ['x\\r']
    """
    if not text:
        return []
    lines = text.split("\n")
    last = lines.pop()
    out = [line[:-1] if line.endswith("\r") else line for line in lines]
    if last:
        out.append(last)
    return out


def _ryu_float(value: float, plus: str = "e+") -> str:
    """Format a finite float as the reference prints it: shortest digits, ryu's layout, ``e+N`` exponents."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    k = int(exp or 0) - len(frac)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k
    if 0 <= k and kk <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        body = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        body = "0." + "0" * (-kk) + digits
    else:
        exponent = kk - 1
        mark = f"{plus}{exponent}" if exponent > 0 else f"e{exponent}"
        body = (digits if length == 1 else f"{digits[0]}.{digits[1:]}") + mark
    return sign + body


def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\u{code:04x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def serde_json_text(value: Any, plus: str = "e+") -> str:
    """Compact JSON text as serde_json's ``Display`` writes it (the reference prints defaults this way).

    >>> serde_json_text({"a": [1, 2.5, 1e16, None, "é"]})
    '{"a":[1,2.5,1e+16,null,"é"]}'
    >>> serde_json_text(1e16, plus="e")
    '1e16'
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return str(int(value))
        try:
            return _ryu_float(float(value), plus)
        except OverflowError:
            raise HarmonyError(f"number {value} is out of range for a JSON schema value") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HarmonyError(f"{value} is not a valid JSON number")
        return _ryu_float(value, plus)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(serde_json_text(v, plus) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_json_string(str(k)) + ":" + serde_json_text(v, plus) for k, v in value.items()) + "}"
    raise HarmonyError(f"value of type {type(value).__name__} is not JSON")


def _jget(value: Any, key: str) -> Any:
    """``value[key]`` if value is a JSON object holding key, else None (serde's ``Value::get``)."""
    return value.get(key) if isinstance(value, dict) else None


def _jhas(value: Any, key: str) -> bool:
    """Whether value is a JSON object holding key (even with a null value)."""
    return isinstance(value, dict) and key in value


def _fail(message: str) -> str:
    raise HarmonyError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    """transformers' ``tojson``: ``json.dumps`` with its options, not Jinja's HTML-safe one (chat templates use it),
    within the sandbox's limits."""
    from harmony_grammar.format.sandbox import tojson

    return tojson(value, ensure_ascii, indent, separators, sort_keys)


def _strftime_now(format: str) -> str:
    """transformers' ``strftime_now``: the local time now, formatted."""
    import datetime

    return datetime.datetime.now().strftime(format)


def _strip_prefix(text: str, prefix: str) -> str:
    return text[len(prefix):] if text.startswith(prefix) else text


# Options that change what a template compiles to; the bytecode cache is kept per set of them.
_SYNTAX = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": False}


def _bytecode_cache() -> "jinja2.BytecodeCache | None":
    """Compiled templates kept on disk, keyed by source (see :func:`harmony_grammar.resources.cache_dir`)."""
    import jinja2

    folder = cache_dir("templates")
    if folder is None:
        return None
    import hashlib

    from harmony_grammar.format.sandbox import COMPILED_FORM

    key = hashlib.sha256(f"{sorted(_SYNTAX.items())}{jinja2.__version__}{COMPILED_FORM}".encode()).hexdigest()[:16]
    try:
        (folder / key).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder / key))


@dataclass
class TemplateSet:
    """Compiled templates from an ordered list of folders (earlier folders override later ones).

    Jinja2 is imported, and the environment built, when the first template is needed.
    """

    markers: Markers
    folders: tuple[Path, ...]
    options: dict[str, Any] = field(default_factory=dict)
    _env: "jinja2.Environment | None" = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_folders(cls, folders: Sequence[Path], options: dict[str, Any] | None = None) -> "TemplateSet":
        """Templates looked up in ``folders`` in order; the package defaults are not added implicitly.

        ``options`` are a dialect's settings (``dialect.json``) that change filters.
        """
        return cls(markers=Markers(), folders=tuple(folders), options=dict(options or {}))

    @property
    def env(self) -> "jinja2.Environment":
        """The sandboxed Jinja2 environment, with the format's filters, tests and globals."""
        if self._env is None:
            with self._lock:
                if self._env is None:
                    global _TEMPLATE_FAILURES
                    _TEMPLATE_FAILURES = template_failures()
                    self._env = self._build_env()
        return self._env

    def _build_env(self) -> "jinja2.Environment":
        import jinja2

        from harmony_grammar.format.sandbox import BoundedSandbox

        plus = (self.options.get("json_numbers") or {}).get("positive_exponent", "e+")
        markers = self.markers
        env = BoundedSandbox(
            loader=jinja2.FileSystemLoader([str(f) for f in self.folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            auto_reload=False,
            cache_size=-1,
            bytecode_cache=_bytecode_cache(),
            **_SYNTAX,
        )
        env.filters.update(
            tojson=_tojson,
            lines=rust_lines,
            json=lambda value: serde_json_text(value, plus),
            strip_prefix=_strip_prefix,
            regex_escape=re.escape,
        )
        env.tests.update(
            array=lambda v: isinstance(v, list),
            object=lambda v: isinstance(v, dict),
        )
        env.globals.update(
            jget=_jget,
            jhas=_jhas,
            fail=_fail,
            raise_exception=_fail,
            strftime_now=_strftime_now,
            special=markers.special,
            brk=markers.brk,
        )
        return env

    @classmethod
    def default(cls) -> "TemplateSet":
        """The templates shipped with the package, in the default dialect."""
        return cls.for_dialect(DEFAULT_DIALECT)

    @classmethod
    def for_dialect(cls, dialect: str, template_dir: str | Path | None = None) -> "TemplateSet":
        """A user folder (optional), then the dialect's folder, then the shared defaults, file by file."""
        base = data_dir("templates")
        if dialect not in dialects():
            raise HarmonyError(f"unknown dialect {dialect!r} (known: {', '.join(dialects())})")
        folders = [base / "dialects" / dialect, base]
        if template_dir is not None:
            user = Path(template_dir)
            if not user.is_dir():
                raise HarmonyError(f"template folder {user} does not exist or is not a folder")
            folders.insert(0, user)
        options = cls.from_folders(folders).read_json("dialect.json")
        return cls.from_folders(folders, options)

    def find(self, name: str) -> Path:
        """The file ``name`` as the loader resolves it (first folder that has it)."""
        for folder in self.folders:
            path = folder / name
            if path.is_file():
                return path
        raise HarmonyError(f"{name!r} not found in " + ", ".join(str(f) for f in self.folders))

    def read_json(self, name: str) -> Any:
        """A JSON data file, resolved like a template; errors name the file and position."""
        path = self.find(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HarmonyError(f"cannot read {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise HarmonyError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None

    def get(self, name: str) -> "jinja2.Template":
        """Load and compile ``name``, raising ``HarmonyError`` with file and line on a syntax error."""
        import jinja2

        try:
            return self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise HarmonyError(
                f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}"
            ) from None
        except jinja2.TemplateNotFound:
            raise HarmonyError(
                f"template {name!r} not found in " + ", ".join(str(f) for f in self.folders)
            ) from None

    def render(self, name: str, **context: Any) -> str:
        """Render template ``name``; template errors (and the sandbox's limits) name the file and line."""
        template = self.get(name)
        env = self.env
        try:
            env.start()
            return env.collect(template.generate(**context))
        except HarmonyError:
            raise
        except _TEMPLATE_FAILURES as exc:
            raise HarmonyError(f"{_where(exc, template)}: template error: {type(exc).__name__}: {exc}") from None

    def macro(self, name: str, macro: str) -> Callable[..., str]:
        """A macro of template ``name`` as a Python callable."""
        template = self.get(name)
        env = self.env
        try:
            env.start()
            module = template.module
        except _TEMPLATE_FAILURES as exc:
            raise HarmonyError(f"{_where(exc, template)}: template error: {type(exc).__name__}: {exc}") from None
        try:
            fn = getattr(module, macro)
        except AttributeError:
            raise HarmonyError(f"{template.filename}: no macro named {macro!r}") from None

        def call(*args: Any, **kwargs: Any) -> str:
            try:
                env.start()
                return env.collect(iter((str(fn(*args, **kwargs)),)))
            except HarmonyError:
                raise
            except _TEMPLATE_FAILURES as exc:
                raise HarmonyError(f"{_where(exc, template)}: template error: {type(exc).__name__}: {exc}") from None

        return call

    def split(self, rendered: str) -> list[str | Special]:
        return self.markers.split(rendered)


def template_failures() -> tuple[type[BaseException], ...]:
    """What rendering a template can raise: Jinja's errors (the sandbox's limits among them), Python's on
    bad values, and what runaway computation raises. Imports Jinja2."""
    import jinja2

    return (jinja2.TemplateError, TypeError, ValueError, AttributeError, LookupError, ArithmeticError,
            MemoryError, RecursionError)


# Set with the first environment, when Jinja2 is imported (see TemplateSet.env).
_TEMPLATE_FAILURES: tuple[type[BaseException], ...] = ()


def _where(exc: BaseException, template: "jinja2.Template") -> str:
    """``FILE:LINE`` of the template code that raised, read from the traceback Jinja rewrites."""
    lineno = getattr(exc, "lineno", None)
    name = getattr(exc, "filename", None) or template.filename or template.name or "<template>"
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".jinja"):
            name, lineno = filename, tb.tb_lineno
        tb = tb.tb_next
    return f"{name}:{lineno}" if lineno else str(name)


_PER_ENCODING = ("format.json", "dialect.json", "constraint.json")


def template_files(dialect: str = DEFAULT_DIALECT) -> dict[str, Path]:
    """Every file a dialect renders with, by the name a template folder would use for it.

    The dialect's own files (``header.jinja``, ``dialect.json``) come first and the
    shared ones fill in the rest. Only files an encoding reads are listed: the
    ``*.jinja`` templates, ``format.json``, ``constraint.json`` and ``dialect.json`` (``defaults.json``
    and ``tools/*.json`` hold the data model's defaults and are not per encoding).
    """
    base = data_dir("templates")
    if dialect not in dialects():
        raise HarmonyError(f"unknown dialect {dialect!r} (known: {', '.join(dialects())})")
    out: dict[str, Path] = {}
    for folder in (base / "dialects" / dialect, base):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if len(rel.parts) == 1 and path.is_file() and (path.suffix == ".jinja" or path.name in _PER_ENCODING):
                out.setdefault(rel.as_posix(), path)
    return dict(sorted(out.items()))


def export_templates(dest: str | Path, dialect: str = DEFAULT_DIALECT, *, force: bool = False) -> list[Path]:
    """Write a dialect's templates into ``dest`` as one flat set, ready to edit and pass as ``template_dir``.

    Existing files are left alone (and reported as an error) unless ``force``.
    """
    target = Path(dest)
    files = template_files(dialect)
    clashes = [name for name in files if (target / name).exists()]
    if clashes and not force:
        raise HarmonyError(f"{target}: would overwrite {', '.join(clashes)} (use force to replace them)")
    written = []
    for name, source in files.items():
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(source.read_bytes())
        written.append(out)
    return written
