"""Templates from strangers: every costly or escaping payload ends in a clean HarmonyError naming file and line.

Each payload replaces system.jinja in a user template folder; it then runs through the
Python API (``template_dir=``) and the command line (``render --templates``). The limits
refuse before the work is done, so these run in milliseconds and small memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from cli_helpers import run

from harmony_grammar import Conversation, HarmonyError, Message, Role, SystemContent, load_harmony_encoding
from harmony_grammar.format.sandbox import MAX_DEPTH, MAX_ITEMS, MAX_ITERATIONS, BoundedSandbox, printed_size

# A value doubled 40 times (2**40 characters or items unbounded), and a string at the limit.
DOUBLE = "{{% set ns = namespace(s={start}) %}}{{% for i in range(40) %}}{{% set ns.s = {step} %}}{{% endfor %}}"
BIG = "{% set s = 'a' * 4000000 %}"

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
    # Doubling a value 40 times: each is refused at the step that passes MAX_ITEMS (2**22 = 4194304).
    "doubling with ~": (DOUBLE.format(start="'a'", step="ns.s ~ ns.s"),
                        f"'aaaaaaaaaaaaaaaaaaa ~ ... would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with + on strings": (DOUBLE.format(start="'a'", step="ns.s + ns.s"),
                                   f"'aaaaaaaaaaaaaaaaaaa + ... would make 4194304 items (the limit is {MAX_ITEMS})"),
    "doubling with + on lists": (DOUBLE.format(start="[0]", step="ns.s + ns.s"),
                                 f"[0 + ... would make 4194304 items (the limit is {MAX_ITEMS})"),
    "doubling with + on tuples": (DOUBLE.format(start="(0,)", step="ns.s + ns.s"),
                                  f"(0 + ... would make 4194304 items (the limit is {MAX_ITEMS})"),
    "doubling with str.replace": (DOUBLE.format(start="'a'", step="ns.s.replace('a', 'aa')"),
                                  f"str.replace would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with the replace filter": (DOUBLE.format(start="'a'", step="ns.s|replace('a', 'aa')"),
                                         f"the replace filter would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with the join filter": (DOUBLE.format(start="'a'", step="[ns.s, ns.s]|join"),
                                      f"the join filter would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with str.join": (DOUBLE.format(start="'a'", step="''.join([ns.s, ns.s])"),
                               f"str.join would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with a set block": (DOUBLE.format(start="'a'", step="ns.s").replace(
        "{% set ns.s = ns.s %}", "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}"),
        f"the output of a template, macro or block would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with a macro": ("{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %}"
                              + DOUBLE.format(start="'a'", step="twice(ns.s)"),
                              f"the output of a template, macro or block would make 4194304 characters "
                              f"(the limit is {MAX_ITEMS})"),
    "doubling with list.extend": (DOUBLE.format(start="[0]", step="ns.s").replace(
        "{% set ns.s = ns.s %}", "{% set _ = ns.s.extend(ns.s) %}"),
        f"list.extend would make 4194304 items (the limit is {MAX_ITEMS})"),
    "doubling with str.translate": (DOUBLE.format(start="'a'", step="ns.s.translate({97: 'aa'})"),
                                    f"str.translate would make 4194304 characters (the limit is {MAX_ITEMS})"),
    "doubling with bytes.hex": (DOUBLE.format(start="'a'", step="ns.s.encode().hex()"),
                                f"bytes.hex would make 4194304 characters (the limit is {MAX_ITEMS})"),
    # A list of 1,000 strings of 4,000,000 characters is allowed; its text (4 GB) is not.
    "printing a big list": (BIG + "{{ [s] * 1000 }}",
                            f"printing ['aaaaaaaaaaaaaaaaaa would make at least 4002002 characters "
                            f"(the limit is {MAX_ITEMS})"),
    "a big list ~": (BIG + "{{ [s] * 1000 ~ '' }}",
                     f"['aaaaaaaaaaaaaaaaaa ~ ... would make at least 4002002 characters (the limit is {MAX_ITEMS})"),
    "a big list in %": (BIG + "{{ '%s' % ([s] * 1000,) }}",
                        f"%-formatting would make at least 4002004 characters (the limit is {MAX_ITEMS})"),
    "a big list in str.format": (BIG + "{{ '{}'.format([s] * 1000) }}",
                                 f"str.format would make at least 4002004 characters (the limit is {MAX_ITEMS})"),
    "a big list joined": (BIG + "{{ ([s] * 1000)|join }}",
                          f"the join filter would make at least 8000000 characters (the limit is {MAX_ITEMS})"),
    "a big list as a string": (BIG + "{{ ([s] * 1000)|string }}",
                               f"the string filter would make at least 4002002 characters (the limit is {MAX_ITEMS})"),
    "a big list in tojson": (BIG + "{{ ([s] * 1000)|tojson }}",
                             f"tojson would make at least 4002002 characters (the limit is {MAX_ITEMS})"),
    "a big list times": (BIG + "{{ ([s] * 1000) * 5000 }}",
                         f"['aaaaaaaaaaaaaaaaaa * 5000 would make 5000000 items (the limit is {MAX_ITEMS})"),
    "a deep list": ("{% set ns = namespace(s=[]) %}{% for i in range(300) %}{% set ns.s = [ns.s] %}{% endfor %}"
                    "{{ ns.s }}", f"a value nested more than {MAX_DEPTH} levels deep (the limit is {MAX_DEPTH})"),
    # Widths that multiply: per tab, per line, per field.
    "expandtabs": ("{{ ('\\t' * 1000).expandtabs(4000000) }}",
                   f"str.expandtabs would make 4000000000 characters (the limit is {MAX_ITEMS})"),
    "indent": ("{{ ('a\\n' * 1000)|indent(4000000) }}",
               f"the indent filter would make 4004002000 characters (the limit is {MAX_ITEMS})"),
    "batch": ("{{ [1]|batch(10**10, 0)|list }}", f"the batch filter with width 10000000000 (the limit is {MAX_ITEMS})"),
    "one field many times": ("{{ ('{0}' * 1000).format('a' * 4000000) }}",
                             f"str.format would make at least 4003000 characters (the limit is {MAX_ITEMS})"),
    "many percent widths": ("{{ ('%4000000d' * 1000) % ((1,) * 1000) }}",
                            f"%-formatting would make at least 4000009000 characters (the limit is {MAX_ITEMS})"),
    "a percent precision": ("{{ '%.999999999f' % 1 }}",
                            f"%-formatting would make at least 1000000011 characters (the limit is {MAX_ITEMS})"),
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


# The check-template path: the same refusals in the transformers-like environment (which refuses
# list.extend for being a mutation before its size matters).
CHAT_PAYLOADS = sorted(name for name in PAYLOADS if PAYLOADS[name][1] is not None
                       and name not in ("doubling with list.extend", "cycler escape", "lipsum escape"))


@pytest.mark.parametrize("name", CHAT_PAYLOADS)
def test_hostile_chat_templates_end_in_a_clean_error(name):
    from harmony_grammar.integrations.chat_template.environment import ChatTemplateError, render_chat_template

    source, detail = PAYLOADS[name]
    with pytest.raises(ChatTemplateError) as info:
        render_chat_template("{# a stranger's template #}\n" + source, [], filename="t.jinja")
    assert str(info.value) == f"t.jinja:2: template error: SecurityError: {detail}"


# Ordinary templates render exactly as in Jinja's own sandbox.
ORDINARY = [
    "{{ 'a' ~ 'b' }}|{{ 1 ~ none ~ 2.5 ~ true }}|{{ [1] + [2] }}|{{ (1,) + (2,) }}|{{ 'a' + 'b' }}|{{ 1 + 2 }}",
    "{{ 'x'.replace('x', 'y') }}|{{ 'aXa'.replace('a', 'bb', 1) }}|{{ 'a b'|replace(' ', '_') }}"
    "|{{ 'aaa'|replace('a', 'b', 2) }}",
    "{% set xs = ['a', 'b', 3] %}{{ xs|join(',') }}|{{ ','.join(['a', 'b']) }}|{{ [{'n': 1}, {'n': 2}]|join('-', "
    "attribute='n') }}|{{ 'abc'|join('.') }}",
    "{{ [1, 2] }}|{{ {'a': none, 'b': [1.5, 'x\\'y\"z']} }}|{{ (1,) }}|{{ 'é\\n' }}|{{ none }}|{{ 10 ** 20 }}",
    "{{ '%s-%d|%-4s|%(x)s' % ('x', 3, 'y', {'x': 1}) if false else '%s-%05d|%-4s|' % ('x', 3, 'y') }}"
    "{{ '%(a)s%(a)s' % {'a': 'q'} }}|{{ '{0}{1:>4}{0!r}'.format('z', 1) }}|{{ '%s, %s'|format('a', 1) }}",
    "{{ [1, 2]|string }}|{{ 'abc'|upper }}|{{ '  a '|trim }}|{{ [1]|tojson }}|{{ {'a': '<'}|tojson }}"
    "|{{ 'a\\nb'|indent(2, true) }}|{{ 'a b c'|wordwrap(1, wrapstring='<br>') }}|{{ [1, 2, 3]|batch(2)|list }}",
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m('a') }}{% set b %}{{ m(1) }}{{ m([2]) }}{% endset %}{{ b }}"
    "{% filter upper %}x{{ 'y' ~ 'z' }}{% endfilter %}{% set l = [1] %}{% set _ = l.extend([2]) %}{{ l }}",
    "{% set lt = '<' %}{% autoescape true %}{{ '<a>' ~ 'b' }}|{{ lt ~ ('<b>'|safe) }}|{{ lt|replace('<', '&') }}"
    "|{{ ['<', '>'|safe]|join('&') }}|{% endautoescape %}{{ '<b>&' }}",
    "{{ 'a\\tb'.expandtabs(4) }}|{{ 'abc'.translate({97: 'xy'}) }}|{{ 'ab'.encode().hex() }}|{{ {'a': 1}.items() }}"
    "|{{ 'ab' is lower }}|{{ namespace(a=[1]) }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_in_jinjas_sandbox(source):
    from jinja2.sandbox import SandboxedEnvironment

    options = {"trim_blocks": True, "lstrip_blocks": True, "autoescape": False}
    env = BoundedSandbox(**options)
    env.start()
    out = env.collect(env.from_string(source).generate())
    assert out == SandboxedEnvironment(**options).from_string(source).render()
    assert type(out) is str


def test_ordinary_values_and_operators():
    env = BoundedSandbox()
    env.start()
    render = lambda source, **kw: env.collect(env.from_string(source).generate(**kw))  # noqa: E731
    assert render("{{ 'a' ~ 'b' }}|{{ [1] + [2] }}|{{ 'x'.replace('x', 'y') }}|{{ xs|join(',') }}|{{ [1, 2] }}",
                  xs=["a", "b"]) == "ab|[1, 2]|y|a,b|[1, 2]"
    text = "<b>&amp; 'markup-free' text"
    assert render("{{ t }}|{{ t ~ '' }}", t=text) == f"{text}|{text}"
    # A caller's string past the limit prints, and goes through filters that do not make it longer.
    big = "a" * (MAX_ITEMS + 10)
    assert render("{{ big }}", big=big) == big
    assert render("{{ big|upper|length }}", big=big) == str(len(big))


def test_printed_size_is_the_length_of_the_text():
    from jinja2.utils import Namespace

    values = ["", "ab", 0, -17, 10 ** 30, 2.5, True, False, None, b"a\x00", [], (), (1,), [1, "a'b", 'a"b', "a'\"b",
              "x\\y", "é\n\x00"], {"a": [1, {"b": None}]}, {1, 2}, {}.keys(), {"a": 1}.items(), Namespace(a=[1])]
    for value in values:
        assert abs(printed_size(value) - len(str(value))) <= (3 * len(value) if isinstance(value, bytes) else 1), value


def test_printed_size_stops_early():
    big = "a" * MAX_ITEMS
    assert MAX_ITEMS < printed_size([big] * 1000) < MAX_ITEMS + 10_000
    shared: object = ["x"]
    for _ in range(60):  # 2**60 strings to print, through shared lists
        shared = [shared, shared]
    assert 100_000 < printed_size(shared, limit=100_000) < 101_000
    assert 10 < printed_size([big] * 1000, limit=10) <= 2000  # the separators alone pass the limit
    loop: list = []
    loop.append(loop)
    with pytest.raises(SecurityError, match=f"^a value nested more than {MAX_DEPTH} levels deep"):
        printed_size(loop)


def test_constant_expressions_are_not_run_when_compiling():
    # Filters of constants would run in the compiler, outside the budget: a million characters each here.
    million = "('aaaaaaaaaa'" + "|replace('a', 'aaaaaaaaaa')" * 5 + ")"
    env = BoundedSandbox()
    source = "\n{{ " + " ~ ".join([million] * 5) + " }}"
    assert len(env.compile(source, raw=True)) < 10_000
    env.start()
    with pytest.raises(SecurityError, match=f"^'aaaaaaaaaaaaaaaaaaa ~ ... would make 5000000 characters "
                                            rf"\(the limit is {MAX_ITEMS}\)$"):
        env.collect(env.from_string(source).generate())
    assert env.from_string("{{ 'a' ~ 'b' ~ 1 }}").render() == "ab1"


def test_compiled_templates_are_cached_per_version_of_the_sandbox(monkeypatch):
    # Code compiled by another version of the sandbox calls its filters differently and skips its checks;
    # the renderer's cache of compiled templates is kept in a folder of this version's own.
    from harmony_grammar.format import sandbox, templating

    first = templating._bytecode_cache()
    monkeypatch.setattr(sandbox, "COMPILED_FORM", "another-version")
    second = templating._bytecode_cache()
    assert first is not None and second is not None
    assert first.directory != second.directory
    assert Path(first.directory).parent == Path(second.directory).parent


def test_escaping_cannot_take_text_past_the_limit():
    env = BoundedSandbox(autoescape=True)
    env.start()
    with pytest.raises(SecurityError, match=f"^the e filter would make 4000004 characters "
                                            rf"\(the limit is {MAX_ITEMS}\)$"):
        env.collect(env.from_string("{{ s|e }}").generate(s="<" * 1_000_001))
    with pytest.raises(SecurityError, match="^'<<<<<<<<<<<<<<<<<<< ~ ... would make 4000005 characters"):
        env.collect(env.from_string("{{ s ~ ('x'|safe) }}").generate(s="<" * 1_000_001))
