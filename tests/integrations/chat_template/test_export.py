"""enc.chat_template(): the exported Hugging Face chat template renders what enc.apply_chat_template renders."""

from __future__ import annotations

import re
import time

import jinja2
import pytest
from jinja2 import nodes

from harmony_grammar import HarmonyError, load_harmony_encoding
from harmony_grammar.format.templating import export_templates
from harmony_grammar.integrations.chat_template.check import check_template, load_cases
from harmony_grammar.integrations.chat_template.environment import render_chat_template
from harmony_grammar.integrations.chat_template.export import export_chat_template

DATE = {"conversation_start_date": "2025-06-28"}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather now.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOL_ROUND = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "reasoning_content": "Ask the tool.", "content": "Checking.",
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                    {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Nice"}}}]},
    {"role": "tool", "tool_call_id": "c2", "content": {"temp": 24}},
    {"role": "tool", "content": "21 degrees"},
]


@pytest.fixture(scope="module")
def template(enc):
    return enc.chat_template()


def features(source: str) -> dict[str, set[str]]:
    """The filters, tests, globals and methods a template calls (its own macros left out)."""
    tree = jinja2.Environment().parse(source)
    macros = {m.name for m in tree.find_all(nodes.Macro)}
    calls = [c.node for c in tree.find_all(nodes.Call)]
    return {
        "filters": {f.name for f in tree.find_all(nodes.Filter)},
        "tests": {t.name for t in tree.find_all(nodes.Test)},
        "globals": {c.name for c in calls if isinstance(c, nodes.Name)} - macros,
        "methods": {c.attr for c in calls if isinstance(c, nodes.Getattr)},
        "macros": macros,
    }


def test_the_template_renders_a_tool_round_exactly(enc, template):
    want = enc.apply_chat_template(TOOL_ROUND, [WEATHER], tokenize=False, **DATE)
    assert render_chat_template(template, TOOL_ROUND, [WEATHER], **DATE) == want
    assert want.endswith(
        "<|start|>user<|message|>Weather in Paris?<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Ask the tool.<|end|>"
        "<|start|>assistant<|channel|>commentary<|message|>Checking.<|end|>"
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>'
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Nice"}<|call|>'
        '<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>{"temp":24}<|end|>'
        "<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>21 degrees<|end|>"
        "<|start|>assistant")


@pytest.mark.parametrize("form", ["completion", "training", "conversation"])
def test_each_form_renders_as_apply_chat_template(enc, template, form):
    chat = TOOL_ROUND + [{"role": "assistant", "reasoning_content": "Both known.", "content": "21 and 24."}]
    if form == "conversation":
        chat = chat + [{"role": "user", "content": "Thanks"}]
    prompt = form == "completion"
    want = enc.apply_chat_template(chat, [WEATHER], add_generation_prompt=prompt, tokenize=False, **DATE)
    assert render_chat_template(template, chat, [WEATHER], add_generation_prompt=prompt, **DATE) == want
    assert want.endswith({"completion": "<|start|>assistant", "training": "21 and 24.<|return|>",
                          "conversation": "<|start|>user<|message|>Thanks<|end|>"}[form])


def test_check_template_finds_no_difference_on_the_built_in_cases(enc, template):
    results = check_template(template, enc)
    assert len(results) == len(load_cases()) > 60
    assert [r.describe() for r in results if r.status != "identical"] == []


def test_the_openai_harmony_dialect_exports_its_own_layout():
    enc = load_harmony_encoding("HarmonyGptOss", dialect="openai-harmony")
    template = enc.chat_template()
    assert "(dialect openai-harmony)" in template
    want = enc.apply_chat_template(TOOL_ROUND, [WEATHER], tokenize=False, **DATE)
    assert "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>" in want
    assert render_chat_template(template, TOOL_ROUND, [WEATHER], **DATE) == want
    assert [r.describe() for r in check_template(template, enc) if r.status != "identical"] == []


def test_a_refused_input_raises_naming_the_message(enc, template):
    chat = [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "beep"}]
    with pytest.raises(HarmonyError) as bridge:
        enc.apply_chat_template(chat, tokenize=False, **DATE)
    with pytest.raises(HarmonyError) as exported:
        render_chat_template(template, chat, **DATE)
    message = ("messages[1].role: unknown role 'robot' (expected system, developer, user, assistant or tool)")
    assert str(bridge.value) == message
    assert getattr(exported.value, "message", None) == message


def test_without_a_date_the_template_writes_today(enc, template):
    today = time.strftime("%Y-%m-%d")
    text = render_chat_template(template, [{"role": "user", "content": "Hi"}])
    assert f"\nCurrent date: {today}\n" in text
    assert text == enc.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)


def test_the_template_uses_only_what_transformers_provides(template):
    used = features(template)
    assert used["filters"] <= set(jinja2.Environment().filters)
    assert used["tests"] <= set(jinja2.Environment().tests)
    assert used["globals"] <= {"raise_exception", "strftime_now", "namespace", "dict"}
    assert used["methods"] <= {"items", "replace", "split", "startswith", "endswith"}
    assert not {"lines", "json", "strip_prefix", "jget", "jhas", "special", "fail", "brk"} & (
        used["filters"] | used["globals"])


def test_the_readme_lists_every_jinja_feature_the_template_uses(template):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### What the template needs"):]
    section = section[:section.index("\n## ")]
    used = features(template)
    for group in ("filters", "tests", "globals", "methods"):
        for name in used[group]:
            assert f"`{name}`" in section, (group, name)


def test_the_header_names_the_version_dialect_and_sources(enc):
    text = export_chat_template(enc, "9.9.9")
    head = text[:text.index("-#}")]
    assert "harmony-grammar 9.9.9 renders it (dialect oss-harmony)" in head
    for name in ("chat_template.jinja", "system.jinja", "developer.jinja", "tools.jinja", "typescript.jinja",
                 "dialects/oss-harmony/header.jinja", "portable.jinja"):
        assert name in head
    macros = features(text)["macros"]
    assert {"typescript_ts", "tools_section", "system_template", "header", "header_terminator",
            "chat_template_text_parts", "portable_json"} <= macros


# -- the portable spellings of the engine's helpers ------------------------------------------


@pytest.mark.parametrize("text", ["", "a", "a\n", "a\r\nb", "a\n\nb\n", "\n", "x\r", "a\r\r\nb", "\r\n\r\n", "é\n🙂"])
def test_lines_in_the_export_splits_as_rust_does(enc, template, text):
    tool = {"type": "function", "function": {"name": "f", "description": text}}
    want = enc.apply_chat_template([{"role": "user", "content": "q"}], [tool], tokenize=False, **DATE)
    assert render_chat_template(template, [{"role": "user", "content": "q"}], [tool], **DATE) == want


@pytest.mark.parametrize("default", [1e16, 1.5e16, 1e-7, -1.5e-7, 0.00001, 1.5e-05, 0.0001, 2.5, -0.0, 1.0, 0,
                                     10**19, 2**64, -(2**63) - 1, 123456789.125, "x\"y", None, True,
                                     [1, {"a": [2.5e-06, "é"]}], {"k": {"n": 1e300}}])
@pytest.mark.parametrize("dialect", ["oss-harmony", "openai-harmony"])
def test_json_in_the_export_prints_numbers_as_serde_does(default, dialect):
    enc = load_harmony_encoding("HarmonyGptOss", dialect=dialect)
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "number", "default": default}}}}}
    chat = [{"role": "user", "content": "q"}]
    want = enc.apply_chat_template(chat, [tool], tokenize=False, **DATE)
    assert render_chat_template(enc.chat_template(), chat, [tool], **DATE) == want


# -- templates a user edited ----------------------------------------------------------------


def test_the_export_follows_a_users_edited_templates(tmp_path, template):
    export_templates(tmp_path)
    system = tmp_path / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace('"Reasoning: "', '"Reasoning effort: "'),
                      encoding="utf-8")
    typescript = tmp_path / "typescript.jinja"
    typescript.write_text(typescript.read_text(encoding="utf-8").replace("boolean\n", "bool\n"), encoding="utf-8")
    edited = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    exported = edited.chat_template()
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"on": {"type": "boolean"}}}}}
    chat = [{"role": "user", "content": "q"}]
    want = edited.apply_chat_template(chat, [tool], tokenize=False, **DATE)
    assert "\n\nReasoning effort: medium\n\n" in want and "on?: bool,\n" in want
    assert render_chat_template(exported, chat, [tool], **DATE) == want
    assert str(tmp_path / "system.jinja") in exported[:exported.index("-#}")]
    assert [r.describe() for r in check_template(exported, edited) if r.status != "identical"] == []
    # The shipped template no longer matches the edited renderer, on every case it renders.
    drift = [r for r in check_template(template, edited) if r.status != "identical"]
    assert drift and all(r.kind == "missing text" and "easoning effort: " in r.expected
                         for r in drift), [r.describe() for r in drift]


def test_a_template_the_export_cannot_spell_is_refused_with_file_and_line(tmp_path):
    export_templates(tmp_path)
    (tmp_path / "next_turn.jinja").write_text('{{ special("<|start|>") }}{{ role | regex_escape }}', encoding="utf-8")
    enc = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=re.escape(f"{tmp_path / 'next_turn.jinja'}:1: the regex_escape filter has "
                                                     "no plain-Jinja spelling, so it cannot be exported")):
        enc.chat_template()


def test_a_variable_named_like_a_macro_is_refused(tmp_path):
    export_templates(tmp_path)
    path = tmp_path / "typescript.jinja"
    path.write_text(path.read_text(encoding="utf-8").replace("{%- set t = ts(", "{%- set object_type = ts("), encoding="utf-8")
    enc = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"typescript\.jinja:\d+: 'object_type' names both a variable and a macro"):
        enc.chat_template()


def test_a_syntax_error_in_an_edited_template_names_the_file(tmp_path):
    export_templates(tmp_path)
    (tmp_path / "tools.jinja").write_text("{% macro tools_section(namespaces) %}{% if %}{% endmacro %}",
                                          encoding="utf-8")
    enc = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=re.escape(f"{tmp_path / 'tools.jinja'}:1: template syntax error")):
        enc.chat_template()


# -- drift ----------------------------------------------------------------------------------


def test_check_template_reports_exactly_the_cases_that_drift(enc, template):
    # The header's <|constrain|> taken out: every case with a function call drifts, and only those.
    assert template.count('{{- "<|constrain|>" -}}') == 1
    drifted = template.replace('{{- "<|constrain|>" -}}', "")
    results = check_template(drifted, enc)
    expected = set()
    for case in load_cases():
        try:
            text = enc.apply_chat_template(case.messages, case.tools, add_generation_prompt=case.add_generation_prompt,
                                           tokenize=False, **case.kwargs)
        except HarmonyError:
            continue
        if "<|constrain|>" in text:
            expected.add(case.name)
    differ = {r.case.name for r in results if r.status != "identical"}
    assert differ == expected and len(expected) >= 10
    assert all(r.kind == "missing text" and r.token == "<|constrain|>" for r in results if r.status != "identical")


# -- cost -----------------------------------------------------------------------------------


def test_a_hostile_edit_exports_but_its_render_is_bounded(tmp_path):
    # Exporting only parses; the payload runs when the template is rendered, in the bounded sandbox.
    export_templates(tmp_path)
    path = tmp_path / "next_turn.jinja"
    path.write_text('{{ special("<|start|>") }}{{ role }}{{ "a" * 10**10 }}', encoding="utf-8")
    enc = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    exported = enc.chat_template()
    start = time.perf_counter()
    with pytest.raises(HarmonyError, match=r"'a' \* 10000000000 would make 10000000000 items \(the limit is 4000000\)"):
        render_chat_template(exported, [{"role": "user", "content": "q"}], filename="t.jinja", **DATE)
    assert time.perf_counter() - start < 5
