"""Reading tool declarations back from a rendered developer or system message.

The validator needs the tools a transcript declares: their names, and as far as
the TypeScript-like text allows, a JSON Schema for their parameters. The text
is parsed with ``grammar/typescript.lark``::

    >>> schema_of('(_: {\\nlocation: string,\\nunit?: "c" | "f", // default: c\\n}) => any;')
    {'type': 'object', 'properties': {'location': {'type': 'string'}, 'unit': {'enum': ['c', 'f']}}, 'required': ['location']}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError

from harmony_grammar.format.grammar import compile_lark

__all__ = ["Declarations", "read_declarations", "schema_of"]

def _lark() -> Lark:
    return compile_lark("typescript.lark", ["declaration"], lexer="contextual")


class _ToSchema(Transformer):  # type: ignore[type-arg]
    """Declaration tree -> JSON Schema."""

    def declaration(self, children: list[Any]) -> Any:
        return children[0] if children and children[0] is not None else None

    def type(self, children: list[Any]) -> Any:
        variants = [c for c in children if c is not None]
        if len(variants) == 1:
            return variants[0]
        if all("enum" in v and len(v) == 1 for v in variants):
            return {"enum": [x for v in variants for x in v["enum"]]}
        return {"anyOf": variants}

    def postfix(self, children: list[Any]) -> Any:
        schema = children[0]
        for _ in children[1:]:
            schema = {"type": "array", "items": schema}
        return schema

    @v_args(inline=True)
    def literal(self, token: Any) -> Any:
        return {"enum": [str(token)[1:-1]]}

    @v_args(inline=True)
    def basic(self, token: Any) -> Any:
        name = str(token)
        return {} if name == "any" else {"type": name}

    def any_array(self, children: list[Any]) -> Any:
        return {"type": "array"}

    def object(self, children: list[Any]) -> Any:
        properties = {}
        required = []
        for name, optional, schema in children:
            properties[name] = schema
            if not optional:
                required.append(name)
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        return out

    def property(self, children: list[Any]) -> Any:
        name = str(children[0])
        optional = len(children) == 3
        return (name, optional, children[-1])


def schema_of(declaration: str) -> Optional[dict[str, Any]]:
    """The JSON Schema of a declaration's parameters; ``{}`` for none; None if it cannot be read."""
    try:
        tree = _lark().parse(declaration)
        schema = _ToSchema().transform(tree)
    except LarkError:
        return None
    return {"type": "object", "properties": {}} if schema is None else schema


@dataclass
class Declarations:
    """Tools a transcript declares, by namespace and name."""

    tools: dict[str, dict[str, Optional[dict[str, Any]]]] = field(default_factory=dict)

    def has(self, namespace: str, name: str) -> bool:
        return name in self.tools.get(namespace, {})

    def schema(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self.tools.get(namespace, {}).get(name)

    def merge(self, other: "Declarations") -> None:
        for ns, tools in other.tools.items():
            self.tools.setdefault(ns, {}).update(tools)


def read_declarations(text: str, rules: dict[str, str]) -> Declarations:
    """Every ``namespace NAME { type TOOL = ... }`` block in a rendered message."""
    opener = re.compile(rules["namespace_open"])
    closer = re.compile(rules["namespace_close"])
    decl = re.compile(rules["declaration"])
    out = Declarations()
    namespace: Optional[str] = None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if namespace is None:
            m = opener.match(line)
            if m:
                namespace = m.group("name")
                out.tools.setdefault(namespace, {})
        elif closer.match(line):
            namespace = None
        else:
            m = decl.match(line)
            if m:
                # The declaration runs to the line ending in "=> any;".
                j = i
                while j < len(lines) and not lines[j].endswith("=> any;"):
                    j += 1
                body = "\n".join(lines[i:j + 1])[m.end("name") + 3:]
                out.tools[namespace][m.group("name")] = schema_of(body)
                i = j
        i += 1
    return out
