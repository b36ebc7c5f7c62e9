"""The Jinja source writer: written source renders what the tree it was written from renders."""

from __future__ import annotations

import random

import jinja2
import pytest

import generators
import harmony_grammar
from harmony_grammar import HarmonyError, load_harmony_encoding
from harmony_grammar.format.templating import template_files
from harmony_grammar.integrations.chat_template.source import expression, literal, write_source
from harmony_grammar.resources import load_json
from oracle_worker import run_case

ENV = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
VALUES = {"a": 3, "b": -2, "s": "Ab c", "xs": [1, 2, 3], "d": {"k": "v", "items": 1}, "t": True, "n": None}


def rewritten(source: str) -> str:
    return write_source(ENV.parse(source))


# Each expression's meaning depends on precedence or on a construct's exact spelling.
EXPRESSIONS = [
    "a ~ s | upper", "(a ~ s) | upper", "-a ** 2", "(-a) ** 2", "not t and n", "not (t and n)",
    "a if t else b", "(a if n else b) | string", "xs[1:]", "xs[:-1]", "xs[::2]", "xs[0:2:1]",
    "d['items']", "d.k", "d.get('k')", "[a, b] + xs", "(a,)", "(a, b)", "{'x': a, 'y': [b]}",
    "a is divisibleby 3", "a is not none", "b not in xs", "1 < a < 5", "a // 2 + a % 2 * 3",
    "a - (b - 1)", "a - b - 1", "s.split(' ')[0]", "xs | map('string') | join(',')",
    "range(3) | list", "s ~ '\\n\\t\"\\\\'", "'{{ not a tag }}' ~ '{% nor this %}'", "1.5e-07", "1e16",
    "(xs | first) ~ (xs | last)", "dict(x=1) | tojson", "namespace(v=a).v", "t and (n or a)",
    "xs | select('gt', 1) | list", "(a > 1) == t", "'é' ~ \"ü\"", "none is none", "true and false",
    "'\\x7f\\u2028\\r\\x01é' ~ s", "not (a is divisibleby 3) and t", "(a if n is none else b) is not number", "((s is string) is not sameas false)",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_an_expression_written_out_means_the_same(text):
    tree = ENV.parse("{{ " + text + " }}")
    source = write_source(tree)
    assert ENV.from_string(source).render(**VALUES) == ENV.from_string("{{ " + text + " }}").render(**VALUES)


STATEMENTS = [
    "{% for x in xs if x > 1 %}[{{ loop.index }}:{{ x }}]{% else %}none{% endfor %}",
    "{% for x in (xs if t else []) %}{{ x }}{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% if x == 3 %}{% break %}{% endif %}{% endfor %}",
    "{% if a > 5 %}big{% elif a > 2 %}mid{% else %}small{% endif %}",
    "{% macro m(x, y=2, z='q') %}<{{ x }}{{ y }}{{ z }}>{% endmacro %}{{ m(1) }}{{ m(1, z=3) }}",
    "{% set ns = namespace(total=0) %}{% for x in xs %}{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }}",
    "{% set p, q = 1, 2 %}{{ p }}{{ q }}",
    "{% set block | upper %}shout {{ s }}{% endset %}{{ block }}",
    "{% with w = a * 2 %}{{ w }}{% endwith %}",
    "  leading\n{{ a }}  \n trailing  \n",
    "{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(a) }}",
]


@pytest.mark.parametrize("text", STATEMENTS)
def test_statements_written_out_render_the_same(text):
    source = rewritten(text)
    assert ENV.from_string(source).render(**VALUES) == ENV.from_string(text).render(**VALUES)


def test_the_layout_of_written_source_never_reaches_the_output():
    # Every tag strips the whitespace around it, so the same source renders the same with or
    # without trim_blocks and lstrip_blocks, as engines differ in them.
    source = rewritten("{% for x in xs %}\n  <{{ x }}>\n{% endfor %}\n")
    plain = ENV.from_string(source).render(**VALUES)
    trimmed = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(source).render(**VALUES)
    assert plain == trimmed == "\n  <1>\n\n  <2>\n\n  <3>\n"


def test_written_source_reads_as_nested_blocks():
    assert rewritten("{% if t %}{% for x in xs %}{{ x }},{% endfor %}{% endif %}") == (
        "{%- if t -%}\n"
        "  {%- for x in xs -%}\n"
        "    {{- x -}}\n"
        '    {{- "," -}}\n'
        "  {%- endfor -%}\n"
        "{%- endif -%}\n")


def test_expression_of_a_filtered_operation_keeps_its_parentheses():
    node = ENV.parse("{{ (a ~ b) | upper }}").body[0].nodes[0]
    assert expression(node) == "(a ~ b) | upper"


def test_what_cannot_be_written_out_is_a_clean_error():
    with pytest.raises(HarmonyError, match=r"^line 1: a \{% filter %\} block cannot be written out as chat-template source"):
        rewritten("{% filter upper %}x{% endfilter %}")
    with pytest.raises(HarmonyError, match=r"^line 1: a \{% call %\} block cannot be written out as chat-template source"):
        rewritten("{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}")


def test_literal_spells_json_data_as_jinja():
    value = {"s": "a\"b\\c\nd\x01", "n": [0, -1, 2.5, -0.0, 1e-07, None, True, False], "e": {}}
    assert literal(value) == ('{"s": "a\\"b\\\\c\\nd\\u0001", "n": [0, (-1), 2.5, (-0.0), 1e-07, none, true, false], '
                              '"e": {}}')
    assert ENV.from_string("{{ v == " + literal(value) + " }}").render(v=value) == "True"
    with pytest.raises(HarmonyError, match="inf has no Jinja literal"):
        literal(float("inf"))


@pytest.mark.parametrize("dialect", ["oss-harmony", "openai-harmony"])
def test_the_shipped_templates_written_out_render_token_for_token(tmp_path, dialect):
    # Every template the renderer uses, parsed and written out again: the renderer reading the
    # written copies gives the same tokens (and the same errors) on the differential generator's cases.
    env = load_harmony_encoding("HarmonyGptOss", dialect=dialect).templates.env
    for name, path in template_files(dialect).items():
        text = path.read_text(encoding="utf-8")
        (tmp_path / name).write_text(write_source(env.parse(text)) if name.endswith(".jinja") else text,
                                     encoding="utf-8")
    original = load_harmony_encoding("HarmonyGptOss", dialect=dialect)
    copy = load_harmony_encoding("HarmonyGptOss", dialect=dialect, template_dir=tmp_path)
    rng = random.Random(1717)
    builtin = {n: load_json("templates", "tools", f"{n}.json") for n in ("browser", "python")}
    cases = [generators.render_case(rng, builtin) for _ in range(300)]
    want = [run_case(harmony_grammar, original, c) for c in cases]
    got = [run_case(harmony_grammar, copy, c) for c in cases]
    assert sum("ok" in w for w in want) > 200
    for case, w, g in zip(cases, want, got):
        if "error" in w:
            # An error names the file and line it came from, which differ between the copies.
            assert g.get("error") == w["error"], case
        else:
            assert g == w, case
