"""Templates from strangers: every costly or escaping payload ends in a clean HarmonyError naming file and line.

Each payload replaces system.jinja in a user template folder; it then runs through the
Python API (``template_dir=``) and the command line (``render --templates``). The limits
refuse before the work is done, so these run in milliseconds and small memory.
"""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from cli_helpers import run

from harmony_grammar import Conversation, HarmonyError, Message, Role, SystemContent, load_harmony_encoding
from harmony_grammar.format.sandbox import MAX_ITEMS, MAX_ITERATIONS, BoundedSandbox

PAYLOADS = {
    "huge range": ("{% for x in range(10**9) %}{% endfor %}",
                   f"range of 1000000000 items would pass {MAX_ITERATIONS} iterations in one render"),
    "nested loops": ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
                     "{% endfor %}{% endfor %}{% endfor %}",
                     f"range of 1000 items would pass {MAX_ITERATIONS} iterations in one render"),
    "string times 10**9": ("{{ 'a' * 10**9 }}", f"'a' * 1000000000 would make 1000000000 items (the limit is {MAX_ITEMS})"),
    "string times 10**10": ("{{ 'a' * 10**10 }}",
                            f"'a' * 10000000000 would make 10000000000 items (the limit is {MAX_ITEMS})"),
    "list times": ("{{ [1, 2] * 10**8 }}", f"[1, 2] * 100000000 would make 200000000 items (the limit is {MAX_ITEMS})"),
    "tower of powers": ("{{ 10 ** (10 ** 10) }}", f"10 ** 10000000000 would have about 13333333333 digits (the limit is {MAX_ITEMS})"),
    "percent width": ("{{ '%0999999999d' % 1 }}", f"%-formatting with width 999999999 (the limit is {MAX_ITEMS})"),
    "format width": ("{{ '{:>1000000000}'.format(1) }}", f"str.format with width 1000000000 (the limit is {MAX_ITEMS})"),
    "center filter": ("{{ 'a'|center(1000000000) }}", f"the center filter with width 1000000000 (the limit is {MAX_ITEMS})"),
    "class escape": ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
    "cycler escape": ("{{ cycler.__init__.__globals__ }}", None),
    "lipsum escape": ("{{ lipsum.__globals__ }}", None),
}


def _folder(tmp_path, source: str):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "system.jinja").write_text(source + "\n", encoding="utf-8")
    return folder


CONVO = Conversation.from_messages([
    Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_conversation_start_date("2025-06-28")),
    Message.from_role_and_content(Role.USER, "Hi")])


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_hostile_templates_end_in_a_clean_error_from_the_api(tmp_path, name):
    source, detail = PAYLOADS[name]
    folder = _folder(tmp_path, source)
    enc = load_harmony_encoding("HarmonyGptOss", template_dir=folder)
    with pytest.raises(HarmonyError) as info:
        enc.render_conversation_for_completion(CONVO, Role.ASSISTANT)
    message = str(info.value)
    assert message.startswith(f"{folder / 'system.jinja'}:1: template error: "), message
    if detail is not None:
        assert message.endswith(detail), message
    assert "Traceback" not in message


@pytest.mark.parametrize("name", ["huge range", "string times 10**10", "class escape"])
def test_hostile_templates_end_in_a_clean_error_from_the_command_line(capsys, tmp_path, name):
    source, detail = PAYLOADS[name]
    folder = _folder(tmp_path, source)
    code, out, err = run(capsys, "render", "--templates", str(folder))
    assert (code, out) == (2, "")
    assert err == f"<built-in example>: error: {folder / 'system.jinja'}:1: template error: SecurityError: {detail}\n"


def test_ordinary_templates_are_untouched():
    env = BoundedSandbox()
    env.start()
    source = "{% for i in range(3) %}{{ 'ab' * 2 }}{{ '%-3s|' % i }}{{ '{:>4}'.format(i) }}{% endfor %}{{ 2 ** 10 }}"
    assert env.collect(env.from_string(source).generate()) == (
        "abab0  |   0abab1  |   1abab2  |   21024")


def test_the_budget_starts_again_with_each_render():
    env = BoundedSandbox()
    template = env.from_string("{% for x in range(600000) %}{% endfor %}ok")
    for _ in range(3):
        env.start()
        assert env.collect(template.generate()) == "ok"
    with pytest.raises(SecurityError, match="would pass 1000000 iterations in one render"):
        env.start()
        env.collect(env.from_string("{% for x in range(600000) %}{% endfor %}"
                                    "{% for x in range(600000) %}{% endfor %}").generate())


def test_output_is_capped(monkeypatch):
    from harmony_grammar.format import sandbox

    monkeypatch.setattr(sandbox, "MAX_OUTPUT", 1000)
    env = BoundedSandbox()
    env.start()
    with pytest.raises(SecurityError, match="^the render is longer than 1000 characters$"):
        env.collect(env.from_string("{% for i in range(200) %}{{ 'x' * 10 }}{% endfor %}").generate())


def test_time_is_capped(monkeypatch):
    from harmony_grammar.format import sandbox

    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.0)
    env = BoundedSandbox()
    env.start()
    with pytest.raises(SecurityError, match="^the render took longer than 0 s$"):
        env.collect(env.from_string("{{ 'a' * 2 }}").generate())
