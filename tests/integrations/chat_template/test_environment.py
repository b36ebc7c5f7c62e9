"""The chat-template environment: transformers' globals and filters, its sandbox, and clean errors for everything."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from harmony_grammar import HarmonyError
from harmony_grammar.format.sandbox import MAX_ITEMS, MAX_ITERATIONS
from harmony_grammar.integrations.chat_template import environment
from harmony_grammar.integrations.chat_template.environment import (
    MAX_STRFTIME_FORMAT,
    ChatTemplateError,
    TemplateRaised,
    chat_template_environment,
    compile_chat_template,
    render_chat_template,
    template_variables,
)

HI = [{"role": "user", "content": "Hi"}]


def render(source: str, messages=HI, **kwargs) -> str:
    return render_chat_template(source, messages, filename="t.jinja", **kwargs)


def failure(source: str, messages=HI, **kwargs) -> ChatTemplateError:
    with pytest.raises(ChatTemplateError) as info:
        render(source, messages, **kwargs)
    return info.value


# -- the environment transformers builds -------------------------------------------------------------------------


def test_the_sandbox_is_immutable_and_bounded():
    env = chat_template_environment()
    assert [c.__name__ for c in type(env).__mro__] == [
        "ChatTemplateSandbox", "ImmutableSandboxedEnvironment", "BoundedSandbox", "SandboxedEnvironment",
        "Environment", "object"]
    assert env is chat_template_environment()
    assert (env.trim_blocks, env.lstrip_blocks, env.autoescape, env.keep_trailing_newline) == (True, True, False, False)
    assert sorted(env.extensions) == ["harmony_grammar.integrations.chat_template.environment.Generation",
                                      "jinja2.ext.LoopControlExtension"]


def test_tojson_is_json_dumps_with_its_options():
    value = "{'b': [1, 2.5, none, true], 'a': 'é<>&'}"
    assert render(f"{{{{ {value}|tojson }}}}") == '{"b": [1, 2.5, null, true], "a": "é<>&"}'
    assert render(f"{{{{ {value}|tojson(indent=2) }}}}") == (
        '{\n  "b": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  "a": "é<>&"\n}')
    assert render(f"{{{{ {value}|tojson(separators=(',', ':')) }}}}") == '{"b":[1,2.5,null,true],"a":"é<>&"}'
    assert render(f"{{{{ {value}|tojson(sort_keys=true) }}}}") == '{"a": "é<>&", "b": [1, 2.5, null, true]}'
    assert render(f"{{{{ {value}|tojson(ensure_ascii=true) }}}}") == '{"b": [1, 2.5, null, true], "a": "\\u00e9<>&"}'
    assert render("{{ {'a': 1}|tojson(indent='\t', separators=(';', '=')) }}") == '{\n\t"a"=1\n}'
    assert render("{{ messages|tojson }}", [{"role": "user", "content": "1e16", "n": 1e16}]) == (
        '[{"role": "user", "content": "1e16", "n": 1e+16}]')


def test_tojson_refuses_huge_indents_and_output():
    assert str(failure("{{ [1]|tojson(indent=10**9) }}")) == (
        f"t.jinja:1: template error: SecurityError: tojson with an indent of 1000000000 characters "
        f"(the limit is {MAX_ITEMS})")
    # A separator given by the caller: inside the template, building it would be refused first.
    assert str(failure("{{ [1, 2]|tojson(separators=(sep, ':')) }}", sep=" " * 6_000_000)) == (
        f"t.jinja:1: template error: SecurityError: tojson with a separator of 6000000 characters "
        f"(the limit is {MAX_ITEMS})")


def test_tojson_output_is_capped(monkeypatch):
    from harmony_grammar.format import sandbox

    monkeypatch.setattr(sandbox, "MAX_OUTPUT", 100)
    assert str(failure("\n{{ [[[[1]]]]|tojson(indent=40) }}")) == (
        "t.jinja:2: template error: SecurityError: tojson would write more than 100 characters")


def test_raise_exception_is_told_apart():
    with pytest.raises(TemplateRaised) as info:
        render("{% if messages[0].role != 'system' %}\n{{ raise_exception('Need a system message, got ' ~ "
               "messages[0].role) }}\n{% endif %}")
    assert str(info.value) == "t.jinja:2: raise_exception: Need a system message, got user"
    assert (info.value.message, info.value.where, info.value.detail) == (
        "Need a system message, got user", "t.jinja:2", "raise_exception: Need a system message, got user")
    assert isinstance(info.value, HarmonyError)


def test_strftime_now(monkeypatch):
    class Clock:
        @staticmethod
        def now() -> datetime.datetime:
            return datetime.datetime(2025, 6, 28, 13, 5)

    monkeypatch.setattr(environment, "datetime", types.SimpleNamespace(datetime=Clock))
    assert render("{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%d %B %Y, %H:%M') }}") == (
        "2025-06-28|28 June 2025, 13:05")
    assert str(failure("{{ strftime_now('%c' * 501) }}")) == (
        f"t.jinja:1: template error: SecurityError: strftime_now with a format of 1002 characters "
        f"(the limit is {MAX_STRFTIME_FORMAT})")


def test_the_real_clock():
    assert render("{{ strftime_now('%Y') }}") in {str(datetime.date.today().year),
                                                   str((datetime.date.today() + datetime.timedelta(days=1)).year)}


def test_loop_controls_and_whitespace_control():
    assert render("{% for i in range(6) %}{% if i == 1 %}{% continue %}{% endif %}"
                  "{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}") == "023"
    assert render("  {% if true %}\n  a\n  {% endif %}\nb\n") == "  a\nb"
    assert render("{% for m in messages %}\n  {%- if loop.first %}[{{ m.content }}]{% endif %}\n{% endfor %}") == "[Hi]"


def test_namespace_refuses_underscore_names():
    assert render("{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% set ns.found = true %}"
                  "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }}") == "True 1"
    message = "a namespace cannot hold the name '_x' (names starting with '_' are refused)"
    assert str(failure("{% set ns = namespace(_x=1) %}")) == f"t.jinja:1: template error: SecurityError: {message}"
    assert str(failure("{% set ns = namespace() %}\n{% set ns._x = 2 %}")) == (
        f"t.jinja:2: template error: SecurityError: {message}")
    assert str(failure("{{ namespace({'_x': 1}) }}")) == f"t.jinja:1: template error: SecurityError: {message}"


def test_dict_without_the_type():
    assert render("{{ dict(a=1, b=[2]) }}|{{ dict.fromkeys(['x', 'y'], 0) }}|{{ dict([('k', 'v')]) }}") == (
        "{'a': 1, 'b': [2]}|{'x': 0, 'y': 0}|{'k': 'v'}")
    # As in transformers, an unsafe attribute is undefined: printed it writes nothing, used it raises.
    assert render("[{{ dict.__class__ }}]") == "[]"
    assert str(failure("{{ dict.__class__.__subclasses__() }}")) == (
        "t.jinja:1: template error: SecurityError: access to attribute '__class__' of 'TemplateDict' object is unsafe.")


def test_lists_and_dicts_cannot_be_changed():
    assert str(failure("{{ messages.append(1) }}")) == (
        "t.jinja:1: template error: SecurityError: access to attribute 'append' of 'list' object is unsafe.")
    assert str(failure("\n{% set _ = messages[0].update({'role': 'x'}) %}")) == (
        "t.jinja:2: template error: SecurityError: access to attribute 'update' of 'dict' object is unsafe.")


def test_generation_blocks_render_their_body():
    assert render("{% for m in messages %}{% generation %}<{{ m.content }}>{% endgeneration %}{% endfor %}") == "<Hi>"


def test_cycler_and_joiner_but_no_lipsum():
    assert render("{% set c = cycler('a', 'b') %}{% set j = joiner('+') %}"
                  "{% for i in range(3) %}{{ j() }}{{ c.next() }}{% endfor %}") == "a+b+a"
    assert str(failure("{{ lipsum(5) }}")) == "t.jinja:1: template error: UndefinedError: 'lipsum' is undefined"


def test_undefined_is_jinjas_default():
    assert render("[{{ missing }}][{{ messages[0].name }}][{{ messages[0].name is defined }}]") == "[][][False]"
    assert str(failure("{{ missing.x }}")) == "t.jinja:1: template error: UndefinedError: 'missing' is undefined"


# -- what the template is given ----------------------------------------------------------------------------------


def test_the_variables_are_transformers():
    source = ("{{ messages|tojson }}|{{ tools|tojson }}|{{ documents|tojson }}|{{ add_generation_prompt }}|"
              "{{ reasoning_effort }}")
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert render(source, tools=tools, reasoning_effort="high", add_generation_prompt=False) == (
        '[{"role": "user", "content": "Hi"}]|[{"type": "function", "function": {"name": "f"}}]|null|False|high')
    assert render("{{ documents|tojson }}", documents=[{"title": "t", "text": "x"}]) == '[{"title": "t", "text": "x"}]'


def test_messages_are_prepared_as_the_tokenizer_prepares_them():
    messages = [
        {"role": "assistant", "content": None, "reasoning": "R", "tool_calls": None},
        {"role": "assistant", "content": "x", "thinking": "T", "reasoning_content": None},
        {"role": "assistant", "content": "y", "reasoning_content": "C", "thinking": "T", "reasoning": "R"},
        {"role": "user", "content": "z"},
    ]
    original = json.loads(json.dumps(messages))
    got = template_variables(messages)["messages"]
    assert got == [
        {"thinking": "R", "role": "assistant", "reasoning": "R", "reasoning_content": "R"},
        {"thinking": "T", "role": "assistant", "content": "x", "reasoning_content": "T"},
        {"thinking": "T", "role": "assistant", "content": "y", "reasoning_content": "C", "reasoning": "R"},
        {"role": "user", "content": "z"},
    ]
    assert [list(m) for m in got][:2] == [["thinking", "role", "reasoning", "reasoning_content"],
                                          ["thinking", "role", "content", "reasoning_content"]]
    assert messages == original


def test_the_variables_are_plain_copies():
    class Text(str):
        def danger(self) -> str:
            return "called"

    given = [{"role": "user", "content": Text("Hi"), "extra": (1, object())}]
    variables = template_variables(given, None, add_generation_prompt=True)
    assert variables["messages"] == [{"role": "user", "content": "Hi", "extra": (1, "<object>")}]
    assert type(variables["messages"][0]["content"]) is str
    assert variables["messages"][0] is not given[0]
    with pytest.raises(HarmonyError, match=r"^messages: expected a list of message objects, found str$"):
        template_variables("Hi")
    with pytest.raises(HarmonyError, match=r"^messages: expected a list of message objects, found null$"):
        render_chat_template("x", None)


# -- every failure is a ChatTemplateError naming the file and the line --------------------------------------------


def test_a_syntax_error():
    with pytest.raises(ChatTemplateError) as info:
        render("{% for m in messages %}\n{{ m.content }\n{% endfor %}")
    assert str(info.value) == "t.jinja:2: template syntax error: unexpected '}'"
    assert (info.value.where, info.value.detail) == ("t.jinja:2", "template syntax error: unexpected '}'")
    with pytest.raises(ChatTemplateError, match=r"^<template>:1: template syntax error: Encountered unknown tag "
                                                r"'endgeneration'\.$"):
        render_chat_template("{% endgeneration %}", HI)


def test_a_template_nested_too_deeply_to_compile():
    with pytest.raises(ChatTemplateError) as info:
        render("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert str(info.value) == (
        "t.jinja: template syntax error: RecursionError: the template is nested too deeply to compile")


HOSTILE = {
    "{% for x in range(10**9) %}{% endfor %}":
        f"SecurityError: range of 1000000000 items would pass {MAX_ITERATIONS} iterations in one render",
    "{{ 'a' * 10**9 }}": f"SecurityError: 'a' * 1000000000 would make 1000000000 items (the limit is {MAX_ITEMS})",
    "{{ 'a' * 10**10 }}": f"SecurityError: 'a' * 10000000000 would make 10000000000 items (the limit is {MAX_ITEMS})",
    "{{ ''.__class__.__mro__ }}": "SecurityError: access to attribute '__class__' of 'str' object is unsafe.",
    "{{ cycler.__init__.__globals__ }}": "SecurityError: access to attribute '__init__' of 'type' object is unsafe.",
    "{{ lipsum.__globals__ }}": "UndefinedError: 'lipsum' is undefined",
    "{{ 10 ** (10 ** 10) }}": f"SecurityError: 10 ** 10000000000 would have about 13333333333 digits "
                              f"(the limit is {MAX_ITEMS})",
    "{{ 'a'|center(10**9) }}": f"SecurityError: the center filter with width 1000000000 (the limit is {MAX_ITEMS})",
    "{{ messages.pop() }}": "SecurityError: access to attribute 'pop' of 'list' object is unsafe.",
    "{{ messages[0].__class__.__subclasses__() }}":
        "SecurityError: access to attribute '__class__' of 'dict' object is unsafe.",
    "{{ raise_exception.__globals__['os'] }}":
        "SecurityError: access to attribute '__globals__' of 'function' object is unsafe.",
}


@pytest.mark.parametrize("source", sorted(HOSTILE))
def test_hostile_templates_end_in_a_clean_error(source):
    start = time.monotonic()
    error = failure("{# a stranger's template #}\n" + source)
    assert str(error) == f"t.jinja:2: template error: {HOSTILE[source]}"
    assert time.monotonic() - start < 2


def test_runaway_recursion_and_arithmetic():
    assert str(failure("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}")) == (
        "t.jinja:1: template error: RecursionError: maximum recursion depth exceeded")
    assert str(failure("\n\n{{ 1 // 0 }}")) == (
        "t.jinja:3: template error: ZeroDivisionError: integer division or modulo by zero")
    assert str(failure("{{ messages[5] }}x{{ messages[5].content }}")) == (
        "t.jinja:1: template error: UndefinedError: list object has no element 5")


def test_the_output_budget_names_the_line(monkeypatch):
    from harmony_grammar.format import sandbox

    monkeypatch.setattr(sandbox, "MAX_OUTPUT", 1000)
    assert str(failure("start\n{% for i in range(200) %}\n{{ 'x' * 10 }}\n{% endfor %}")) == (
        "t.jinja:3: template error: SecurityError: the render is longer than 1000 characters")


def test_the_time_budget(monkeypatch):
    from harmony_grammar.format import sandbox

    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.0)
    assert str(failure("{# nothing written yet #}\n{{ 'b' * 2 }}")) == (
        "t.jinja:2: template error: SecurityError: the render took longer than 0 s")


# -- compiling ---------------------------------------------------------------------------------------------------


def test_compiled_templates_are_kept_by_source():
    source = "{{ messages|length }} cached"
    assert compile_chat_template(source, "a.jinja") is compile_chat_template(source, "a.jinja")
    assert compile_chat_template(source, "a.jinja") is not compile_chat_template(source, "b.jinja")
    assert compile_chat_template.cache_info().maxsize == 64
    assert render_chat_template(source, HI) == "1 cached"


def test_importing_the_module_does_not_load_jinja():
    package = Path(environment.__file__).resolve().parents[3]
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(package)}
    code = ("import sys, harmony_grammar.integrations.chat_template.environment as e, "
            "harmony_grammar.integrations.chat_template.check as c\n"
            "print('jinja2' in sys.modules)\n"
            "e.render_chat_template('x', [])\n"
            "print('jinja2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout == "False\nTrue\n"
