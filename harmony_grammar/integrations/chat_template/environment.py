"""Render a Hugging Face chat template as transformers does, inside the bounded sandbox.

transformers renders a chat template in an ``ImmutableSandboxedEnvironment``
(``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, a ``{% generation %}``
tag) with its own ``tojson``, ``raise_exception``, ``strftime_now``, ``dict``
and ``namespace``. This module builds the same environment, without importing
transformers, on :class:`~harmony_grammar.format.sandbox.BoundedSandbox`, so a
template from a stranger also has a budget of size, iterations and time. The
messages are copied as plain data and prepared as ``tokenizer.apply_chat_template``
prepares them: keys whose value is None are dropped, and a message with any
reasoning field gets it under both ``thinking`` and ``reasoning_content``.

    >>> render_chat_template("{{ messages[0].thinking }}|{{ tools|tojson }}|{{ add_generation_prompt }}",
    ...                      [{"role": "assistant", "reasoning": "Hmm.", "content": None}])
    'Hmm.|null|True'
    >>> render_chat_template("{{ raise_exception('no system messages') }}", [], filename="t.jinja")
    Traceback (most recent call last):
    ...
    harmony_grammar.integrations.chat_template.environment.TemplateRaised: t.jinja:1: raise_exception: no system messages

Two differences from transformers, both refusals: ``lipsum`` is not defined,
and the budgets of ``BoundedSandbox`` apply (also to ``tojson``'s output and
``strftime_now``'s format). ``tokenizer.apply_chat_template`` also passes the
tokenizer's special tokens (``bos_token``, ``eos_token``, ...); give them as
keywords to a template that reads them.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.templating import template_failures

if TYPE_CHECKING:
    import jinja2

__all__ = ["ChatTemplateError", "TemplateRaised", "compile_chat_template", "render_chat_template",
           "chat_template_environment", "template_variables", "REASONING_FIELDS", "MAX_STRFTIME_FORMAT"]

# The names a message's reasoning comes under, in the order the first non-null one is taken.
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")

# strftime output can be 256 times its format; chat templates pass a few characters.
MAX_STRFTIME_FORMAT = 1000


class ChatTemplateError(HarmonyError):
    """A chat template that cannot be compiled or rendered: ``str()`` is ``WHERE: DETAIL``.

    ``where`` is ``FILE:LINE`` (``FILE`` alone when no line is known); ``detail``
    says what went wrong (``template syntax error: ...``, ``template error: TYPE: ...``).
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


class TemplateRaised(ChatTemplateError):
    """The template refused its input by calling ``raise_exception(message)``; ``message`` is the template's."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, f"raise_exception: {message}")
        self.message = message


def chat_template_environment() -> "jinja2.Environment":
    """The one shared environment (Jinja2 is imported on the first call); each render has its own budget."""
    return _environment()[0]


@lru_cache(maxsize=None)
def _environment() -> "tuple[jinja2.Environment, type[jinja2.TemplateError]]":
    """The environment, and the exception its ``raise_exception`` raises."""
    import jinja2
    import jinja2.ext
    from jinja2 import nodes
    from jinja2.exceptions import SecurityError, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Cycler, Joiner, Namespace

    from harmony_grammar.format import sandbox
    from harmony_grammar.format.sandbox import BoundedSandbox

    class ChatTemplateSandbox(ImmutableSandboxedEnvironment, BoundedSandbox):
        """Refuses what mutates lists and dicts (``ImmutableSandboxedEnvironment``) and what costs too much
        (``BoundedSandbox``): the MRO runs ``is_safe_attribute`` through the first, the operators, calls and
        ``range`` through the second."""

    class Raised(TemplateError):
        """What ``raise_exception`` raises, told apart from Jinja's own errors."""

    class Generation(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}``: renders its body (transformers marks assistant tokens)."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    class TemplateNamespace(Namespace):
        """``namespace(...)`` that refuses attribute names starting with an underscore."""

        def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - Namespace's signature: self may be a key
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                _refuse_underscore(name)
            Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            _refuse_underscore(name)
            Namespace.__setitem__(self, name, value)

    def _refuse_underscore(name: object) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(f"a namespace cannot hold the name {name!r} (names starting with '_' are refused)")

    class TemplateDict:
        """``dict(...)`` and ``dict.fromkeys(...)``, without the type itself (no ``dict.__subclasses__``)."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    env = ChatTemplateSandbox(trim_blocks=True, lstrip_blocks=True,
                              extensions=[Generation, jinja2.ext.loopcontrols])

    def raise_exception(message: Any) -> None:
        raise Raised(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return sandbox.tojson(value, ensure_ascii, indent, separators, sort_keys)

    def strftime_now(format: str) -> str:
        if isinstance(format, str) and len(format) > MAX_STRFTIME_FORMAT:
            raise SecurityError(f"strftime_now with a format of {len(format)} characters "
                                f"(the limit is {MAX_STRFTIME_FORMAT})")
        return datetime.datetime.now().strftime(format)

    env.filters["tojson"] = tojson
    env.globals.update(
        raise_exception=raise_exception,
        strftime_now=strftime_now,
        dict=TemplateDict(),
        namespace=TemplateNamespace,
        cycler=Cycler,  # BoundedSandbox leaves these out; they cost nothing, and templates may use them
        joiner=Joiner,
    )
    return env, Raised


@lru_cache(maxsize=64)
def compile_chat_template(source: str, filename: str = "<template>") -> "jinja2.Template":
    """The compiled template (kept for the next call with the same source); a syntax error is a
    :class:`ChatTemplateError` ``FILE:LINE: template syntax error: MESSAGE``."""
    import jinja2

    env = chat_template_environment()
    try:
        code = env.compile(source, name=filename, filename=filename)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(f"{filename}:{exc.lineno}", f"template syntax error: {exc.message}") from None
    except (RecursionError, MemoryError) as exc:  # a template nested past what the compiler can hold
        raise ChatTemplateError(filename, f"template syntax error: {type(exc).__name__}: the template is "
                                          f"nested too deeply to compile") from None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _plain(value: Any) -> Any:
    """A copy of ``value`` made of JSON's types only (str subclasses become str; other objects, a placeholder)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return f"<{type(value).__name__}>"


def _message(message: Any) -> Any:
    """A message as the template sees it: None values dropped, the reasoning under both names."""
    if not isinstance(message, dict):
        return message
    message = {k: v for k, v in message.items() if v is not None}
    reasoning = next((message[k] for k in REASONING_FIELDS if message.get(k) is not None), None)
    if reasoning is not None:
        message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
    return message


def template_variables(messages: Sequence[Any], tools: Optional[Sequence[Any]] = None, *,
                       add_generation_prompt: bool = True, **kwargs: Any) -> dict[str, Any]:
    """What a chat template is rendered with: copies of the messages (prepared as the module says), ``tools``,
    ``documents`` (None unless given), ``add_generation_prompt`` and the keywords. The caller's data is never
    changed."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        found = "null" if messages is None else type(messages).__name__
        raise HarmonyError(f"messages: expected a list of message objects, found {found}")
    documents = kwargs.pop("documents", None)
    return {
        **{k: _plain(v) for k, v in kwargs.items()},
        "messages": [_message(m) for m in _plain(list(messages))],
        "tools": _plain(tools),
        "documents": _plain(documents),
        "add_generation_prompt": add_generation_prompt,
    }


def _where(exc: BaseException, filename: str, generator: Any, template: "jinja2.Template") -> str:
    """``FILE:LINE`` of the template code that raised: from the traceback Jinja rewrites, or else (a budget
    checked between output chunks) from where the template's generator is suspended."""
    lineno: Optional[int] = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    if lineno is None:
        gen, at = generator, None
        while gen is not None and getattr(gen, "gi_frame", None) is not None:
            if "__jinja_template__" in gen.gi_frame.f_globals:
                at = gen.gi_frame.f_lineno
            gen = gen.gi_yieldfrom
        if at is not None:
            lineno = template.get_corresponding_lineno(at)
    return f"{filename}:{lineno}" if lineno else filename


def render_chat_template(source: str, messages: Sequence[Any], tools: Optional[Sequence[Any]] = None, *,
                         add_generation_prompt: bool = True, filename: str = "<template>", **kwargs: Any) -> str:
    """The text chat template ``source`` renders for these messages, as transformers' ``apply_chat_template``
    would with ``tokenize=False``.

    Every failure is a :class:`ChatTemplateError` naming ``FILE:LINE``: a syntax error, an error while
    rendering (``template error: TYPE: MESSAGE``, the sandbox's refusals and budgets among them), or, as
    :class:`TemplateRaised`, the template's own ``raise_exception(message)``.
    """
    template = compile_chat_template(source, filename)
    env, raised = _environment()
    variables = template_variables(messages, tools, add_generation_prompt=add_generation_prompt, **kwargs)
    generator: Optional[Iterator[str]] = None
    try:
        env.start()  # type: ignore[attr-defined]
        generator = template.generate(**variables)
        return env.collect(generator)  # type: ignore[attr-defined]
    except raised as exc:
        message = exc.args[0] if exc.args else ""
        raise TemplateRaised(_where(exc, filename, generator, template), str(message)) from None
    except template_failures() as exc:
        where = _where(exc, filename, generator, template)
        raise ChatTemplateError(where, f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        if generator is not None:
            generator.close()  # type: ignore[attr-defined]
