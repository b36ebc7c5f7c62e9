"""check_template: the built-in cases run through the bridge as they say, and the differ on hand-made templates."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from harmony_grammar import HarmonyError
from harmony_grammar.integrations.chat_template.check import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    KINDS,
    STATUSES,
    Case,
    CaseResult,
    check_case,
    check_template,
    load_cases,
    summarize,
    summary_line,
)
from harmony_grammar.integrations.chat_template.environment import ChatTemplateError
from hostile import HOSTILE

CASES = load_cases()
DATE = "2025-06-28"
HI = Case("hi", "a user message", [{"role": "user", "content": "Hi"}], kwargs={"conversation_start_date": DATE})
ROBOT = Case("robot", "an unknown role", [{"role": "robot", "content": "beep"}],
             kwargs={"conversation_start_date": DATE})
ROBOT_REFUSAL = "messages[0].role: unknown role 'robot' (expected system, developer, user, assistant or tool)"


def raw(text: str) -> str:
    """A template that writes ``text`` as it is."""
    assert "{% endraw %}" not in text
    return "{% raw %}" + text + "{% endraw %}"


def expected_text(enc, case: Case) -> str:
    return enc.apply_chat_template(case.messages, case.tools, add_generation_prompt=case.add_generation_prompt,
                                   tokenize=False, **case.kwargs)


# -- the built-in cases ------------------------------------------------------------------------------------------


def test_the_corpus_has_unique_names_and_a_reasonable_size():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert 60 <= len(CASES) <= 90
    assert all(case.covers for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_case_runs_through_the_bridge_as_it_says(enc, case):
    if case.refused is not None:
        assert case.name.startswith("refused-")
        with pytest.raises(HarmonyError) as info:
            expected_text(enc, case)
        assert str(info.value) == case.refused
        return
    assert not case.name.startswith("refused-")
    text = expected_text(enc, case)
    for part in case.contains:
        assert part in text
    for part in case.lacks:
        assert part not in text


def test_only_the_default_date_cases_leave_out_the_date():
    undated = [case.name for case in CASES if "conversation_start_date" not in case.kwargs]
    assert undated == ["default-date", "default-date-with-tools"]


def test_the_corpus_covers_each_setting_and_form():
    seen = Counter()
    for case in CASES:
        for key, value in case.kwargs.items():
            seen[key, json.dumps(value, sort_keys=True)] += 1
        last = case.messages[-1].get("role") if case.messages else None
        seen["form", case.add_generation_prompt, last == "assistant"] += 1
    for key in [("reasoning_effort", '"low"'), ("reasoning_effort", '"high"'), ("auto_drop_analysis", "true"),
                ("auto_drop_analysis", "false"), ("builtin_tools", '["python"]'), ("builtin_tools", '["browser"]')]:
        assert seen[key], key
    assert {k[0] for k in seen if k[0] != "form"} >= {
        "reasoning_effort", "model_identity", "conversation_start_date", "knowledge_cutoff", "builtin_tools",
        "response_format", "auto_drop_analysis"}
    for form in [(True, True), (True, False), (False, True), (False, False)]:
        assert seen["form", *form], form
    texts = json.dumps([(c.messages, c.tools) for c in CASES], ensure_ascii=False)
    for field in ['"reasoning_content"', '"reasoning"', '"thinking"', '"input_text"', '"output_text"', '"refusal"',
                  '"role": "function"', "{{ x }}", "{% if", "{#", "<|end|>", "\\r\\n", "1e+16", "1e-07", "1e-05",
                  "-0.0", '"oneOf"', '"nullable"', '"examples"', '"title"', '"default"', "18446744073709551615"]:
        assert field in texts, field


# -- the differ --------------------------------------------------------------------------------------------------


def test_a_template_that_always_raises(enc):
    results = check_template('{% if true %}\n{{ raise_exception("no") }}\n{% endif %}', enc, filename="no.jinja")
    for case, result in zip(CASES, results):
        assert result.case == case
        if case.refused is None:
            assert (result.status, result.message, result.refused) == ("raised", "no.jinja:2: raise_exception: no", None)
            assert result.describe() == "raised: no.jinja:2: raise_exception: no"
        else:
            assert (result.status, result.message, result.refused) == ("identical", "no", case.refused)
            assert result.describe() == "identical (refused by both: no)"
    refused = sum(case.refused is not None for case in CASES)
    assert summarize(results) == {"cases": len(CASES), "identical": refused, "differ": 0,
                                  "raised": len(CASES) - refused}
    assert summary_line(results) == f"{len(CASES)} cases: {refused} identical, 0 differ, {len(CASES) - refused} raised"


def test_fixed_text_differs_at_character_zero(enc):
    result, refused = check_template("Hello", enc, [HI, ROBOT])
    assert (result.status, result.kind, result.index, result.token, result.near) == (
        "differs", "changed text", 0, "<|start|>", "at")
    assert (result.expected, result.got) == ("<|start|>system<", "Hello")
    assert result.describe() == "differs at character 0: changed text at <|start|>: expected '<|start|>system<' got 'Hello'"
    assert (result.expected_text, result.got_text) == (expected_text(enc, HI), "Hello")
    assert (refused.status, refused.kind, refused.refused, refused.got_text) == (
        "differs", "renders an input the bridge refuses", ROBOT_REFUSAL, "Hello")
    assert refused.describe() == f"differs: renders an input the bridge refuses: {ROBOT_REFUSAL}"


def test_an_empty_render_is_missing_text(enc):
    [result] = check_template("", enc, [HI])
    assert result.describe() == "differs at character 0: missing text at <|start|>: expected '<|start|>system<' got ''"


def test_the_renderers_own_text_is_identical(enc):
    results = check_template(raw(expected_text(enc, HI)), enc, [HI, ROBOT])
    assert [(r.status, r.kind) for r in results] == [
        ("identical", None), ("differs", "renders an input the bridge refuses")]
    assert results[0].describe() == "identical"


TOOL_CASE = next(case for case in CASES if case.name == "tool-call-and-result")


def test_a_missing_special_token(enc):
    text = expected_text(enc, TOOL_CASE)
    cut = text.replace(" <|constrain|>json", "", 1)
    [result] = check_template(raw(cut), enc, [TOOL_CASE])
    n = text.index(" <|constrain|>json")
    assert (result.kind, result.index, result.token, result.near) == ("missing text", n, "<|constrain|>", "at")
    assert result.describe() == (
        f"differs at character {n}: missing text at <|constrain|>: "
        "expected '_weather <|constrain|>js' got '_weather<|message|>{\"cit'")


def test_the_kind_is_the_first_differences(enc):
    # Both calls lose their <|constrain|>: the first difference is still missing text, not a change that
    # runs to the second.
    case = next(case for case in CASES if case.name == "parallel-calls")
    text = expected_text(enc, case)
    assert text.count(" <|constrain|>json") == 2
    [result] = check_template(raw(text.replace(" <|constrain|>json", "")), enc, [case])
    assert (result.kind, result.token, result.near, result.index) == (
        "missing text", "<|constrain|>", "at", text.index(" <|constrain|>json"))
    # The template writes "weatherly" where the renderer writes "weather", in several places: extra text.
    widened = raw(text.replace("Weather", "Weatherly").replace("weather", "weatherly"))
    [result] = check_template(widened, enc, [case])
    assert (result.kind, result.index) == ("extra text", text.index("weather") + len("weather"))


def test_the_end_of_either_text(enc):
    text = expected_text(enc, HI)
    [short] = check_template(raw(text[:-9]), enc, [HI])
    assert short.describe() == (
        f"differs at character {len(text) - 9}: missing text after <|start|>: expected '|start|>assistant' "
        "got '|start|>'")
    [long] = check_template(raw(text + "<|channel|>"), enc, [HI])
    assert long.describe() == (
        f"differs at character {len(text)}: extra text at <|channel|>: expected 'ssistant' got 'ssistant<|channel|>'")


def test_extra_and_changed_text(enc):
    text = expected_text(enc, HI)
    n = text.index("Hi<|end|>")
    [extra] = check_template(raw(text[:n] + "Hi there" + text[n + 2:]), enc, [HI])
    assert extra.describe() == (
        f"differs at character {n + 2}: extra text after <|message|>: expected 'sage|>Hi<|end|><|start|>' "
        "got 'sage|>Hi there<|end|><|s'")
    [changed] = check_template(raw(text.replace("<|start|>assistant", "<|start|>user")), enc, [HI])
    m = len(text) - len("assistant")
    assert changed.describe() == (
        f"differs at character {m}: changed text after <|start|>: expected '|start|>assistant' got '|start|>user'")
    [token] = check_template(raw(text.replace("Hi<|end|>", "Hi<|return|>")), enc, [HI])
    # The first differing character is inside the renderer's <|end|>: the difference is at it.
    assert (token.kind, token.token, token.near, token.index) == ("changed text", "<|end|>", "at", n + 4)


def test_the_context_is_repr_escaped(enc):
    text = expected_text(enc, HI)
    n = text.index("\nCurrent date")
    # (A template cannot write "\r" itself: Jinja reads every line ending in its source as "\n".)
    [result] = check_template(raw(text[:n] + "\t'\x01" + text[n:]), enc, [HI])
    assert result.index == n
    assert result.expected == text[n - CONTEXT_BEFORE:n + CONTEXT_AFTER]
    assert result.describe() == (
        f"differs at character {n}: extra text after <|message|>: expected ' 2024-06\\nCurrent date: 2' "
        "got \" 2024-06\\t'\\x01\\nCurrent date\"")


def test_a_broken_template_on_a_refused_input_is_raised(enc):
    [result] = check_template("{{ messages[0].content.x.y }}", enc, [ROBOT], filename="b.jinja")
    assert (result.status, result.refused) == ("raised", ROBOT_REFUSAL)
    assert result.describe() == (
        "raised: b.jinja:1: template error: UndefinedError: 'str object' has no attribute 'x' "
        f"(the bridge refuses this input too: {ROBOT_REFUSAL})")


def test_a_syntax_error_stops_before_any_case(enc):
    with pytest.raises(ChatTemplateError, match=r"^s\.jinja:2: template syntax error: Unexpected end of template\. "
                                                r"Jinja was looking for the following tags: 'endfor' or 'else'\. "
                                                r"The innermost block that needs to be closed is 'for'\.$"):
        check_template("a\n{% for m in messages %}\n", enc, filename="s.jinja")




@pytest.mark.parametrize("source", sorted(HOSTILE))
def test_hostile_templates_are_raised_on_every_case(enc, source):
    start = time.monotonic()
    results = check_template("{# hostile #}\n" + source, enc, filename="h.jinja")
    assert time.monotonic() - start < 5
    assert {r.status for r in results} == {"raised"}
    assert {r.message for r in results} == {f"h.jinja:2: template error: {HOSTILE[source]}"}


def test_a_result_as_json(enc):
    [result] = check_template("Hello", enc, [HI])
    assert result.to_json() == {
        "name": "hi", "covers": "a user message", "status": "differs", "kind": "changed text", "index": 0,
        "expected": "<|start|>system<", "got": "Hello", "token": "<|start|>", "near": "at", "message": None,
        "refused": None,
        "description": "differs at character 0: changed text at <|start|>: expected '<|start|>system<' got 'Hello'"}


def test_check_case_is_one_result(enc):
    assert check_case("Hello", enc, HI) == check_template("Hello", enc, [HI])[0]
    assert isinstance(check_case("Hello", enc, HI), CaseResult)


def test_the_documented_sets(enc):
    assert STATUSES == ("identical", "differs", "raised")
    assert KINDS == ("missing text", "extra text", "changed text", "renders an input the bridge refuses")
    assert summary_line([]) == "0 cases: 0 identical, 0 differ, 0 raised"
    assert summary_line(check_template("x", enc, [HI])) == "1 case: 0 identical, 1 differ, 0 raised"


# -- reading cases -----------------------------------------------------------------------------------------------


def test_a_case_from_json():
    case = Case.from_json({"name": "n", "covers": "c", "messages": [], "kwargs": {"reasoning_effort": "low"},
                           "contains": ["x"]}, "here")
    assert case == Case("n", "c", [], None, True, {"reasoning_effort": "low"}, None, ("x",), ())


@pytest.mark.parametrize(("data", "message"), [
    ([], "here: expected a case object, found list"),
    ({"name": "n", "covers": "c", "messages": [], "expect": "x", "other": 1}, "here: unknown fields expect, other"),
    ({"covers": "c", "messages": []}, "here.name: expected a non-empty string, found null"),
    ({"name": "", "covers": "c", "messages": []}, "here.name: expected a non-empty string, found str"),
    ({"name": "n", "covers": "c", "messages": {}}, "here.messages: expected a list of messages, found dict"),
    ({"name": "n", "covers": "c", "messages": [], "add_generation_prompt": 1},
     "here.add_generation_prompt: expected true or false, found int"),
    ({"name": "n", "covers": "c", "messages": [], "contains": [1]}, "here.contains: expected a list of strings"),
    ({"name": "n", "covers": "c", "messages": [], "refused": 3}, "here.refused: expected the bridge's error message, "
                                                                 "found int"),
])
def test_a_malformed_case(data, message):
    with pytest.raises(HarmonyError) as info:
        Case.from_json(data, "here")
    assert str(info.value) == message


def test_load_cases_from_a_file(tmp_path):
    path = tmp_path / "cases.json"
    one = {"name": "a", "covers": "c", "messages": [{"role": "user", "content": "Hi"}]}
    path.write_text(json.dumps({"cases": [one]}), encoding="utf-8")
    assert load_cases(path) == [Case("a", "c", [{"role": "user", "content": "Hi"}])]
    path.write_text(json.dumps({"cases": [one, one]}), encoding="utf-8")
    with pytest.raises(HarmonyError, match=rf"^{path}: cases\[1\]\.name: 'a' is the name of an earlier case$"):
        load_cases(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(HarmonyError, match=rf"^{path}:1:2: invalid JSON: Expecting property name enclosed in double quotes$"):
        load_cases(path)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(HarmonyError, match=rf'^{path}: expected an object with a list of cases under "cases"$'):
        load_cases(path)
    with pytest.raises(HarmonyError, match=rf"^cannot read {tmp_path / 'none.json'}: No such file or directory$"):
        load_cases(tmp_path / "none.json")
