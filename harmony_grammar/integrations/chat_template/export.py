"""One Hugging Face chat template from the template files: what ``HarmonyEncoding.chat_template()`` returns.

``chat_template.jinja`` (the chat bridge) and every template it imports or
includes are parsed with the encoding's own Jinja environment, rewritten into
plain Jinja and written out as one file:

- each file's macros keep their names, prefixed with the file's stem unless
  they already start with it (``typescript.jinja``'s ``ts`` is ``typescript_ts``);
  a file that is included becomes the macro ``<stem>_template``, called with the
  variables it reads;
- the engine's helpers become plain Jinja: ``special("<|x|>")`` the token's
  text, ``brk`` nothing, ``fail`` ``raise_exception``, ``jget``/``jhas``/``lines``/
  ``strip_prefix`` and the ``array``/``object`` tests expressions, and the
  ``json`` filter ``portable.jinja``'s macro;
- the data the bridge reads (``chat.json``, ``format.json``, the system defaults,
  the built-in tools) is written in as literals.

The result needs only what transformers' template environment has: the
standard filters and tests, ``tojson`` with ``separators``, ``raise_exception``
and ``strftime_now``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional

import pydantic_core

from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.templating import TemplateSet
from harmony_grammar.integrations.chat.mapping import builtin_tools, mapping_rules
from harmony_grammar.integrations.chat_template.source import literal, write_source
from harmony_grammar.model import ReasoningEffort, SystemContent
from harmony_grammar.resources import data_dir, load_json

if TYPE_CHECKING:
    from jinja2 import nodes

    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["export_chat_template", "ENTRY", "HELPERS"]

ENTRY = "chat_template.jinja"
HELPERS = "portable.jinja"
# The engine helpers that have a plain-Jinja spelling (see _Portable).
_ENGINE_ONLY = {"jget", "jhas", "fail", "special", "brk"}


class _File:
    """One template file as the export sees it: its tree, how it is used, and its names."""

    def __init__(self, name: str, path: Path, tree: "nodes.Template") -> None:
        self.name = name
        self.path = path
        self.tree = tree
        self.stem = name.rsplit(".", 1)[0].replace("/", "_").replace("-", "_").replace(".", "_")
        self.included = False
        self.renames: dict[str, str] = {}  # name in this file -> name in the export
        self.modules: dict[str, str] = {}  # `import "x" as m` alias -> file name
        self.params: list[str] = []

    def macro_name(self, name: str) -> str:
        return name if name == self.stem or name.startswith(self.stem + "_") else f"{self.stem}_{name}"


def _where(file: _File, node: "nodes.Node") -> str:
    return f"{file.path}:{getattr(node, 'lineno', '?')}"


def _load(templates: TemplateSet) -> dict[str, _File]:
    """Every file the entry template reaches through imports and includes, parsed."""
    import jinja2
    from jinja2 import nodes

    env = templates.env
    files: dict[str, _File] = {}
    pending = [ENTRY, HELPERS]
    while pending:
        name = pending.pop()
        if name in files:
            continue
        path = templates.find(name)
        source = path.read_text(encoding="utf-8")
        try:
            tree = env.parse(source, name, str(path))
        except jinja2.TemplateSyntaxError as exc:
            raise HarmonyError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from None
        files[name] = _File(name, path, tree)
        for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
            if not isinstance(node.template, nodes.Const) or not isinstance(node.template.value, str):
                raise HarmonyError(f"{path}:{node.lineno}: only a template named by a string literal can be exported")
            pending.append(node.template.value)
    for file in files.values():
        for node in file.tree.find_all(nodes.Include):
            files[node.template.value].included = True
    return files


def _names(files: dict[str, _File], env_globals: Iterable[str]) -> None:
    """Fill each file's renames, module aliases and (for included files) parameters."""
    from jinja2 import meta, nodes

    for file in files.values():
        for node in file.tree.body:
            if isinstance(node, nodes.Macro):
                file.renames[node.name] = file.macro_name(node.name)
    for file in files.values():
        for node in file.tree.find_all(nodes.FromImport):
            source = files[node.template.value]
            for item in node.names:
                name, alias = (item, item) if isinstance(item, str) else item
                if name not in source.renames:
                    raise HarmonyError(f"{_where(file, node)}: {source.name} has no macro {name!r}")
                file.renames[alias] = source.renames[name]
        for node in file.tree.find_all(nodes.Import):
            file.modules[node.target] = node.template.value
        if file.included:
            if file.name == ENTRY:
                raise HarmonyError(f"{file.path}: {ENTRY} cannot be included")
            free = meta.find_undeclared_variables(file.tree)
            file.params = sorted(free - set(env_globals) - _ENGINE_ONLY)
    for file in files.values():
        for node in file.tree.find_all(nodes.Name):
            if node.ctx in ("store", "param") and node.name in file.renames:
                raise HarmonyError(f"{_where(file, node)}: {node.name!r} names both a variable and a macro; "
                                   "rename one")
    taken: dict[str, str] = {}
    for file in files.values():
        for new in list(file.renames.values()) + ([file.stem + "_template"] if file.included else []):
            taken.setdefault(new, file.name)
    for file in files.values():
        for node in file.tree.find_all(nodes.Name):
            if node.ctx in ("store", "param") and node.name in taken:
                raise HarmonyError(f"{_where(file, node)}: the variable {node.name!r} has the name the export gives "
                                   f"to a macro of {taken[node.name]}; rename it")


def _portable(file: _File, files: dict[str, _File]) -> "nodes.Template":
    """``file``'s tree in plain Jinja (see the module's docstring)."""
    from jinja2 import nodes
    from jinja2.visitor import NodeTransformer

    def call(target: "nodes.Expr", method: str, *args: "nodes.Expr") -> "nodes.Expr":
        return nodes.Call(nodes.Getattr(target, method, "load"), list(args), [], None, None)

    def test(target: "nodes.Expr", name: str) -> "nodes.Expr":
        return nodes.Test(target, name, [], [], None, None)

    def mapping_holds(value: "nodes.Expr", key: "nodes.Expr") -> "nodes.Expr":
        return nodes.And(test(value, "mapping"), nodes.Compare(key, [nodes.Operand("in", value)]))

    def fail(node: "nodes.Node", what: str) -> HarmonyError:
        return HarmonyError(f"{_where(file, node)}: {what} has no plain-Jinja spelling, so it cannot be exported")

    class Portable(NodeTransformer):
        def visit_Filter(self, node: "nodes.Filter") -> "nodes.Node":
            self.generic_visit(node)
            x = node.node
            if node.name == "lines":
                # Rust's str::lines: split at \n or \r\n; a final line ending adds no empty line.
                unified = call(x, "replace", nodes.Const("\r\n"), nodes.Const("\n"))
                trimmed = nodes.CondExpr(call(x, "endswith", nodes.Const("\n")),
                                         nodes.Getitem(unified, nodes.Slice(None, nodes.Const(-1), None), "load"),
                                         unified)
                return nodes.CondExpr(x, call(trimmed, "split", nodes.Const("\n")), nodes.List([]))
            if node.name == "json":
                return nodes.Call(nodes.Name(files[HELPERS].renames["json"], "load"), [x], [], None, None)
            if node.name == "strip_prefix":
                prefix = node.args[0]
                rest = nodes.Getitem(x, nodes.Slice(nodes.Filter(prefix, "length", [], [], None, None), None, None),
                                     "load")
                return nodes.CondExpr(call(x, "startswith", prefix), rest, x)
            if node.name == "regex_escape":
                raise fail(node, "the regex_escape filter")
            return node

        def visit_Test(self, node: "nodes.Test") -> "nodes.Node":
            self.generic_visit(node)
            if node.name == "object":
                return test(node.node, "mapping")
            if node.name == "array":
                x = node.node
                return nodes.And(nodes.And(test(x, "iterable"), nodes.Not(test(x, "string"))),
                                 nodes.Not(test(x, "mapping")))
            return node

        def visit_Call(self, node: "nodes.Call") -> "nodes.Node":
            target = node.node
            name = target.name if isinstance(target, nodes.Name) else None
            if isinstance(target, nodes.Getattr) and isinstance(target.node, nodes.Name) \
                    and target.node.name in file.modules:
                module = files[file.modules[target.node.name]]
                if target.attr not in module.renames:
                    raise HarmonyError(f"{_where(file, node)}: {module.name} has no macro {target.attr!r}")
                node.node = nodes.Name(module.renames[target.attr], "load")
            self.generic_visit(node)
            if name == "special":
                if len(node.args) != 1 or node.kwargs:
                    raise fail(node, "special() with other than one argument")
                return node.args[0]  # a special token is its text
            if name == "fail":
                node.node = nodes.Name("raise_exception", "load")
            elif name in ("jget", "jhas"):
                value, key = node.args
                if name == "jhas":
                    return mapping_holds(value, key)
                return nodes.CondExpr(mapping_holds(value, key), nodes.Getitem(value, key, "load"), nodes.Const(None))
            return node

        def visit_Name(self, node: "nodes.Name") -> "nodes.Node":
            if node.name == "brk" and node.ctx == "load":
                return nodes.Const("")
            if node.ctx == "load" and node.name in file.renames:
                return nodes.Name(file.renames[node.name], "load")
            return node

        def visit_Macro(self, node: "nodes.Macro") -> "nodes.Node":
            self.generic_visit(node)
            node.name = file.renames.get(node.name, node.name)
            return node

        def visit_FromImport(self, node: "nodes.FromImport") -> None:
            return None

        def visit_Import(self, node: "nodes.Import") -> None:
            return None

        def visit_Include(self, node: "nodes.Include") -> "nodes.Node":
            target = files[node.template.value]
            keywords = [nodes.Keyword(p, nodes.Name(p, "load")) for p in target.params]
            macro = nodes.Call(nodes.Name(target.stem + "_template", "load"), [], keywords, None, None)
            return nodes.Output([macro])

    tree = Portable().visit(file.tree)
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in _ENGINE_ONLY:
            raise fail(node, f"{node.name!r} used as a value")
    return tree  # type: ignore[no-any-return]


def _data(encoding: "HarmonyEncoding") -> dict[str, Any]:
    """The data the bridge template reads, as the Python bridge reads it."""
    templates = encoding.templates
    numbers = templates.read_json("dialect.json").get("json_numbers") or {}
    system = pydantic_core.to_jsonable_python(SystemContent.new(), exclude_none=True, by_alias=True)
    namespaces = {name: load_json("templates", "tools", f"{name}.json") for name in builtin_tools()}
    return {
        "rules": mapping_rules(),
        "format_rules": templates.read_json("format.json"),
        "system_defaults": system,
        "builtin_namespaces": namespaces,
        "efforts": [e.value for e in ReasoningEffort],
        "positive_exponent": numbers.get("positive_exponent", "e+"),
    }


def _shown(path: Path) -> str:
    base = data_dir("templates")
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def export_chat_template(encoding: "HarmonyEncoding", version: Optional[str] = None) -> str:
    """The Hugging Face chat template of ``encoding``'s templates (a user's ``template_dir`` included)."""
    from jinja2 import nodes

    templates = encoding.templates
    files = _load(templates)
    _names(files, templates.env.globals)
    order = [HELPERS] + sorted(n for n in files if n not in (HELPERS, ENTRY)) + [ENTRY]
    dialect = templates.read_json("dialect.json").get("name", "?")
    lines = [
        "{#-",
        f"  gpt-oss chat template: the harmony format as harmony-grammar {version or ''} renders it".rstrip()
        + f" (dialect {dialect}).",
        "  Generated by `harmony-grammar chat-template` from " + ", ".join(_shown(files[n].path) for n in order) + ",",
        "  chat.json, format.json, defaults.json and tools/*.json. Edit those and export again;",
        "  `harmony-grammar check-template` tells whether a template still renders what the renderer renders.",
        "  Needs: the standard Jinja filters and tests, tojson(separators=...), raise_exception, strftime_now.",
        "  Keywords: reasoning_effort, model_identity, conversation_start_date, knowledge_cutoff, builtin_tools,",
        "  response_format, auto_drop_analysis.",
        "-#}",
    ]
    for name, value in _data(encoding).items():
        lines.append(f"{{%- set {name} = {literal(value)} -%}}")
    parts = ["\n".join(lines) + "\n"]
    for name in order:
        file = files[name]
        tree = _portable(file, files)
        if file.included:
            params = [nodes.Name(p, "param") for p in file.params]
            tree = nodes.Template([nodes.Macro(file.stem + "_template", params, [], tree.body)])
        elif name != ENTRY:
            tree = _only_macros(file, tree)
        parts.append(write_source(tree, f"\n{{#- {_shown(file.path)} -#}}\n"))
    return "".join(parts)


def _only_macros(file: _File, tree: "nodes.Template") -> "nodes.Template":
    """An imported file's macros: anything else at its top level but blank text would be lost, and is refused."""
    from jinja2 import nodes

    kept = []
    for node in tree.body:
        if isinstance(node, nodes.Macro):
            kept.append(node)
            continue
        if isinstance(node, nodes.Output) and all(isinstance(n, nodes.TemplateData) and not n.data.strip()
                                                   for n in node.nodes):
            continue
        raise HarmonyError(f"{_where(file, node)}: an imported template may hold only macros to be exported "
                           f"(found {type(node).__name__})")
    return nodes.Template(kept)
