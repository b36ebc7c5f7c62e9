"""The package's own import graph: no cycles, and ``import harmony_grammar`` loads only the core."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import harmony_grammar

PACKAGE = Path(harmony_grammar.__file__).resolve().parent

# What ``import harmony_grammar`` may load: the model, the encoding and the format bindings it starts with.
# The parsers, the renderer and the grammar load when first used (the renderer and parser on the first
# render or parse, ``StreamableParser`` on first access), and with them lark and Jinja2.
CORE = {
    "harmony_grammar",
    "harmony_grammar.errors",
    "harmony_grammar.resources",
    "harmony_grammar.model",
    "harmony_grammar.engine",
    "harmony_grammar.engine.encoding",
    "harmony_grammar.engine.mask",
    "harmony_grammar.format",
    "harmony_grammar.format.header",
    "harmony_grammar.format.templating",
    "harmony_grammar.format.tokens",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in it (functions and TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known)
    for text in _lazy_targets(path):
        found.add(text)
    found.discard(name)
    return found


def _lazy_targets(path: Path) -> set[str]:
    """Modules named as strings in a ``_LAZY`` table (the package's lazy attributes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return set(ast.literal_eval(node.value).values())
    return set()


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # A package's __init__ importing its own submodules is how packages re-export; not a cycle.
            if node == nxt.rpartition(".")[0] or node == "harmony_grammar":
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_walker_sees_the_edges_it_must():
    graph = _graph()
    assert "harmony_grammar.format.tokens" in graph["harmony_grammar.engine.encoding"]
    assert "harmony_grammar.engine.encoding" in graph["harmony_grammar.integrations.chat.convert"]  # TYPE_CHECKING
    assert "harmony_grammar.tools.validate" in graph["harmony_grammar"]  # lazy attribute
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_package_has_no_import_cycle():
    assert _cycle(_graph()) is None


def test_lower_layers_never_import_higher_ones():
    layers = ["errors", "resources", "model", "example", "format", "engine", "tools", "integrations", "cli"]

    def layer(module: str) -> int:
        part = module.split(".")[1] if "." in module else "cli"
        return layers.index(part) if part in layers else len(layers)

    wrong = [(a, b) for a, targets in _graph().items() if a != "harmony_grammar" and "__main__" not in a
             for b in targets if b != "harmony_grammar" and layer(b) > layer(a)]
    assert wrong == []


def _fresh(code: str) -> object:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(PACKAGE.parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


_LOADED = ("json.dumps([sorted(m for m in sys.modules if m.startswith('harmony_grammar')), "
           "[m for m in ('lark', 'jinja2', 'jsonschema') if m in sys.modules]])")


def test_import_loads_only_the_core():
    ours, third_party = _fresh(f"import harmony_grammar, sys, json; print({_LOADED})")
    assert set(ours) == CORE
    assert third_party == []


def test_the_first_render_loads_the_renderer_and_the_grammar():
    ours, third_party = _fresh(
        "import harmony_grammar as h, sys, json\n"
        "enc = h.load_harmony_encoding('HarmonyGptOss')\n"
        "convo = h.Conversation.from_messages([h.Message.from_role_and_content(h.Role.USER, 'Hi')])\n"
        "assert enc.render_conversation_for_completion(convo, h.Role.ASSISTANT) == "
        "[200006, 1428, 200008, 12194, 200007, 200006, 173781]\n"
        f"print({_LOADED})")
    assert set(ours) - CORE == {"harmony_grammar.engine.render", "harmony_grammar.engine.parse",
                                "harmony_grammar.format.grammar", "harmony_grammar.format.content",
                                "harmony_grammar.format.sandbox"}
    assert third_party == ["lark", "jinja2"]


def test_every_public_name_is_importable_and_lazy_names_load_on_first_use():
    code = (
        "import harmony_grammar as h, sys, json\n"
        "before = 'harmony_grammar.tools.validate' in sys.modules\n"
        "values = {n: getattr(h, n).__name__ for n in h.__all__}\n"
        "print(json.dumps([before, 'harmony_grammar.tools.validate' in sys.modules, sorted(values), sorted(dir(h))]))"
    )
    before, after, names, listed = _fresh(code)
    assert (before, after) == (False, True)
    assert names == sorted(harmony_grammar.__all__)
    assert set(harmony_grammar.__all__) <= set(listed)


def test_an_unknown_attribute_is_an_attribute_error():
    try:
        harmony_grammar.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert str(exc) == "module 'harmony_grammar' has no attribute 'no_such_name'"
    else:
        raise AssertionError("expected AttributeError")
