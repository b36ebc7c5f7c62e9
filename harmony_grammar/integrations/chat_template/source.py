"""Jinja source from a Jinja syntax tree: how an exported chat template is written out.

The writer puts every tag on its own line, indented by nesting, with ``-`` on
both sides, and every piece of literal text in a string expression. So the
layout of the file never reaches the output, whatever the engine's
``trim_blocks`` and ``lstrip_blocks``, and rendering the written source gives
what rendering the tree gives:

    >>> import jinja2
    >>> env = jinja2.Environment()
    >>> print(write_source(env.parse("{% for x in xs if x %}<{{ x | upper }}>{% endfor %}")))
    {%- for x in xs if x -%}
      {{- "<" -}}
      {{- x | upper -}}
      {{- ">" -}}
    {%- endfor -%}
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Optional

from harmony_grammar.errors import HarmonyError

if TYPE_CHECKING:
    from jinja2 import nodes

__all__ = ["write_source", "literal", "expression"]

_BINARY = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "FloorDiv": "//", "Mod": "%", "Pow": "**",
           "And": "and", "Or": "or"}
_UNARY = {"Not": "not ", "Neg": "-", "Pos": "+"}
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}
_ATOMS = ("Name", "NSRef", "Const", "Getattr", "Getitem", "Call", "List", "Tuple", "Dict")
_INDENT = "  "
_SPELLED = {"FilterBlock": "a {% filter %} block", "CallBlock": "a {% call %} block", "Extends": "{% extends %}",
            "Block": "a {% block %}", "ExprStmt": "a {% do %} statement"}


def _string(text: str) -> str:
    # JSON's escapes (\\n, \\", \\u0001) are also Jinja's: it decodes string literals as Python does.
    return json.dumps(text, ensure_ascii=False)


def literal(value: Any) -> str:
    """A JSON-like value as a Jinja literal (strings, numbers, booleans, none, lists, dicts).

    >>> literal({"a": [1, 2.5, None, True], "b": "x\\ny"})
    '{"a": [1, 2.5, none, true], "b": "x\\\\ny"}'
    """
    if value is None:
        return "none"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HarmonyError(f"{value} has no Jinja literal")
        return repr(value) if value >= 0 and math.copysign(1.0, value) > 0 else f"({value!r})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise HarmonyError(f"a value of type {type(value).__name__} has no Jinja literal")


def _kind(node: "nodes.Node") -> str:
    return type(node).__name__


def _unsupported(node: "nodes.Node", what: Optional[str] = None) -> HarmonyError:
    line = getattr(node, "lineno", None)
    at = f"line {line}: " if line else ""
    what = what or _SPELLED.get(_kind(node)) or f"a {_kind(node)} node"
    return HarmonyError(f"{at}{what} cannot be written out as chat-template source")


def _operand(node: "nodes.Node") -> str:
    text = expression(node)
    return text if _kind(node) in _ATOMS else f"({text})"


def _arguments(node: Any) -> str:
    parts = [expression(a) for a in node.args]
    parts += [f"{k.key}={expression(k.value)}" for k in node.kwargs]
    if node.dyn_args is not None:
        parts.append("*" + _operand(node.dyn_args))
    if node.dyn_kwargs is not None:
        parts.append("**" + _operand(node.dyn_kwargs))
    return ", ".join(parts)


def _test(node: Any, sign: str) -> str:
    """A filter or test applied: ``X | f(args)``, ``X is t`` or ``X is not t``."""
    args = _arguments(node)
    return f"{_operand(node.node)}{sign}{node.name}" + (f"({args})" if args else "")


def expression(node: "nodes.Node") -> str:
    """The source of one expression node, parenthesized wherever precedence could matter."""
    kind = _kind(node)
    if kind == "Name":
        return node.name  # type: ignore[attr-defined,no-any-return]
    if kind == "NSRef":
        return f"{node.name}.{node.attr}"  # type: ignore[attr-defined]
    if kind == "Const":
        return literal(node.value)  # type: ignore[attr-defined]
    if kind == "Getattr":
        return f"{_operand(node.node)}.{node.attr}"  # type: ignore[attr-defined]
    if kind == "Getitem":
        return f"{_operand(node.node)}[{expression(node.arg)}]"  # type: ignore[attr-defined]
    if kind == "Slice":
        parts = [("" if p is None else expression(p)) for p in (node.start, node.stop)]  # type: ignore[attr-defined]
        step = node.step  # type: ignore[attr-defined]
        return ":".join(parts) + ("" if step is None else ":" + expression(step))
    if kind == "Call":
        return f"{_operand(node.node)}({_arguments(node)})"  # type: ignore[attr-defined]
    if kind in ("Filter", "Test"):
        if node.node is None:  # type: ignore[attr-defined]
            raise _unsupported(node, "a filter block")
        return _test(node, " | " if kind == "Filter" else " is ")
    if kind in _BINARY:
        return f"{_operand(node.left)} {_BINARY[kind]} {_operand(node.right)}"  # type: ignore[attr-defined]
    if kind == "Not" and _kind(node.node) == "Test" and node.node.node is not None:  # type: ignore[attr-defined]
        return _test(node.node, " is not ")  # type: ignore[attr-defined]
    if kind in _UNARY:
        return _UNARY[kind] + _operand(node.node)  # type: ignore[attr-defined]
    if kind == "Concat":
        return " ~ ".join(_operand(n) for n in node.nodes)  # type: ignore[attr-defined]
    if kind == "Compare":
        out = _operand(node.expr)  # type: ignore[attr-defined]
        for op in node.ops:  # type: ignore[attr-defined]
            out += f" {_COMPARE[op.op]} {_operand(op.expr)}"
        return out
    if kind == "CondExpr":
        out = f"{_operand(node.expr1)} if {_operand(node.test)}"  # type: ignore[attr-defined]
        return out if node.expr2 is None else f"{out} else {_operand(node.expr2)}"  # type: ignore[attr-defined]
    if kind == "List":
        return "[" + ", ".join(expression(n) for n in node.items) + "]"  # type: ignore[attr-defined]
    if kind == "Tuple":
        items = [expression(n) for n in node.items]  # type: ignore[attr-defined]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if kind == "Dict":
        return "{" + ", ".join(f"{expression(p.key)}: {expression(p.value)}" for p in node.items) + "}"  # type: ignore[attr-defined]
    raise _unsupported(node)


def _filter_chain(node: Any) -> str:
    """``| f(args) | g`` for the filters of a ``{% set x | f %}`` block (the innermost has no operand)."""
    head = "" if node.node is None else _filter_chain(node.node)
    args = _arguments(node)
    return f"{head} | {node.name}" + (f"({args})" if args else "")


def _target(node: "nodes.Node") -> str:
    if _kind(node) == "Tuple":
        return ", ".join(_target(n) for n in node.items)  # type: ignore[attr-defined]
    return expression(node)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def tag(self, depth: int, text: str) -> None:
        self.lines.append(f"{_INDENT * depth}{{%- {text} -%}}")

    def output(self, depth: int, text: str) -> None:
        self.lines.append(f"{_INDENT * depth}{{{{- {text} -}}}}")

    def body(self, statements: list["nodes.Node"], depth: int) -> None:
        for node in statements:
            self.statement(node, depth)

    def statement(self, node: "nodes.Node", depth: int) -> None:
        kind = _kind(node)
        n: Any = node
        if kind == "Output":
            for child in n.nodes:
                if _kind(child) == "TemplateData":
                    if child.data:
                        self.output(depth, _string(child.data))
                else:
                    self.output(depth, expression(child))
        elif kind == "If":
            self.tag(depth, f"if {expression(n.test)}")
            self.body(n.body, depth + 1)
            for branch in n.elif_:
                self.tag(depth, f"elif {expression(branch.test)}")
                self.body(branch.body, depth + 1)
            if n.else_:
                self.tag(depth, "else")
                self.body(n.else_, depth + 1)
            self.tag(depth, "endif")
        elif kind == "For":
            head = f"for {_target(n.target)} in {_operand(n.iter)}"  # a bare `if` would be the loop filter
            if n.test is not None:
                head += f" if {expression(n.test)}"
            if n.recursive:
                head += " recursive"
            self.tag(depth, head)
            self.body(n.body, depth + 1)
            if n.else_:
                self.tag(depth, "else")
                self.body(n.else_, depth + 1)
            self.tag(depth, "endfor")
        elif kind == "Macro":
            required = len(n.args) - len(n.defaults)
            params = [a.name if i < required else f"{a.name}={expression(n.defaults[i - required])}"
                      for i, a in enumerate(n.args)]
            self.tag(depth, f"macro {n.name}({', '.join(params)})")
            self.body(n.body, depth + 1)
            self.tag(depth, "endmacro")
        elif kind == "Assign":
            self.tag(depth, f"set {_target(n.target)} = {expression(n.node)}")
        elif kind == "AssignBlock":
            head = f"set {_target(n.target)}"
            if n.filter is not None:
                head += _filter_chain(n.filter)
            self.tag(depth, head)
            self.body(n.body, depth + 1)
            self.tag(depth, "endset")
        elif kind == "With":
            pairs = ", ".join(f"{_target(t)} = {expression(v)}" for t, v in zip(n.targets, n.values))
            self.tag(depth, f"with {pairs}")
            self.body(n.body, depth + 1)
            self.tag(depth, "endwith")
        elif kind == "FromImport":
            names = ", ".join(x if isinstance(x, str) else f"{x[0]} as {x[1]}" for x in n.names)
            self.tag(depth, f"from {expression(n.template)} import {names}" + ("" if not n.with_context else " with context"))
        elif kind == "Import":
            self.tag(depth, f"import {expression(n.template)} as {n.target}" + ("" if not n.with_context else " with context"))
        elif kind == "Include":
            self.tag(depth, f"include {expression(n.template)}" + (" ignore missing" if n.ignore_missing else "")
                     + ("" if n.with_context else " without context"))
        elif kind in ("Continue", "Break"):
            self.tag(depth, kind.lower())
        elif kind == "Scope":
            self.body(n.body, depth)
        else:
            raise _unsupported(node)


def write_source(template: "nodes.Template", header: str = "") -> str:
    """The Jinja source of ``template`` (a tree from ``Environment.parse``), after ``header`` (a comment or more source)."""
    writer = _Writer()
    writer.body(template.body, 0)
    return header + "\n".join(writer.lines) + "\n"
