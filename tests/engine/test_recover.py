"""Recovery: every malformation class with exact messages, spans and diagnostics, and the invariants.

The invariants, on generated and mutated completions and random integer lists:
no token is lost (message spans and dropped spans tile the input), input the
strict parser accepts comes back as it parses it with no diagnostics, batch and
streaming agree, streamed deltas add up to each message's content, and it never
raises on a list of ints.
"""

from __future__ import annotations

import random

import pytest

import generators

from harmony_grammar import HarmonyError, Role, StreamableParser
from harmony_grammar.engine import recover as recover_module
from harmony_grammar.engine.recover import Recovery, policy, strict_reading_stands
from harmony_grammar.resources import load_json

STRUCTURE = ("<|start|>", "<|end|>", "<|call|>", "<|return|>")
CODES = {code for code in load_json("grammar", "checks.json")["diagnostics"] if code.startswith("R")}


def toks(enc, text: str) -> list[int]:
    return enc.encode(text, allowed_special="all")


def summary(message) -> dict:
    out = {"role": message.author.role.value, "channel": message.channel, "recipient": message.recipient,
           "content_type": message.content_type, "content": message.content[0].text}
    if message.author.name is not None:
        out["name"] = message.author.name
    return {k: v for k, v in out.items() if v is not None}


def stream(enc, tokens, role=Role.ASSISTANT) -> tuple[Recovery, list[str]]:
    """Recover token by token; also return each message's content as the deltas built it."""
    parser = StreamableParser(enc, role, recover=True)
    built: list[str] = []
    current: list[str] = []
    count = 0
    for token in tokens:
        parser.process(token)
        if parser.last_content_delta:
            current.append(parser.last_content_delta)
        if parser.message_count > count:
            built.extend(["".join(current)] + [""] * (parser.message_count - count - 1))
            count, current = parser.message_count, []
    parser.process_eos()
    if parser.last_content_delta:
        current.append(parser.last_content_delta)
    if parser.message_count > count:
        built.extend(["".join(current)] + [""] * (parser.message_count - count - 1))
    return parser.recovery(), built


def tiles(recovery: Recovery, n: int) -> bool:
    """Message spans and dropped spans are disjoint and cover 0..n."""
    pos = 0
    for start, end in sorted(recovery.spans + recovery.dropped()):
        if start != pos or end <= start:
            return False
        pos = end
    return pos == n


def check(enc, tokens, role=Role.ASSISTANT) -> Recovery:
    """The batch result, after checking every invariant against the stream."""
    batch = enc.recover_messages_from_completion_tokens(tokens, role)
    streamed, built = stream(enc, tokens, role)
    assert batch.messages == streamed.messages
    assert batch.spans == streamed.spans
    assert batch.diagnostics == streamed.diagnostics
    assert built == [m.content[0].text for m in streamed.messages]
    assert tiles(batch, len(tokens)), (tokens, batch)
    assert len(batch.spans) == len(batch.messages)
    return batch


# -- the policy's own examples: the README's table ------------------------------------------


@pytest.mark.parametrize("example", policy().examples, ids=lambda e: "+".join(e["codes"]))
def test_every_example_of_the_policy(enc, example):
    found = check(enc, toks(enc, example["wrote"]))
    assert [summary(m) for m in found.messages] == example["messages"]
    assert [d.code for d in found.diagnostics] == example["codes"]


def test_every_rule_has_a_code_and_every_code_a_rule():
    rules = load_json("grammar", "recovery.json")["rules"]
    assert sorted(rule["code"] for rule in rules.values()) == sorted(CODES)


def test_every_r_code_is_tested_here():
    tested = {name[len("test_r"):len("test_r") + 3] for name in globals() if name.startswith("test_r0")}
    assert {f"R{n}" for n in tested} == CODES


# -- one test per code: exact messages, spans and diagnostics -------------------------------


def diagnostics(found: Recovery) -> list[dict]:
    return [d.to_dict() for d in found.diagnostics]


def test_r001_stop_token_after_end(enc):
    found = check(enc, toks(enc, "<|channel|>final<|message|>Hi<|end|><|return|>"))
    assert found.spans == [(0, 5)]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R001", "token": 5, "span": [5, 6],
        "message": "stop token <|return|> where <|start|> is due: dropped"}]


def test_r002_header_after_a_stop_token_without_start(enc):
    tokens = toks(enc, "<|channel|>analysis<|message|>think<|call|>commentary to=functions.x <|constrain|>json"
                       "<|message|>{}<|call|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "analysis", "content": "think"},
        {"role": "assistant", "channel": "commentary", "recipient": "functions.x",
         "content_type": "<|constrain|>json", "content": "{}"}]
    assert found.spans == [(0, 5), (5, len(tokens))]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R002", "token": 5,
        "message": "a header without <|start|>assistant before it: read as a new assistant message"}]


def test_r003_text_with_no_message_after_it(enc):
    tokens = toks(enc, "<|channel|>final<|message|>Hi<|end|>and more words<|end|>")
    found = check(enc, tokens)
    assert found.spans == [(0, 5)]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R003", "token": 5, "span": [5, len(tokens)],
        "message": "'and more words<|end|>' begins no message (no <|message|> follows before the next stop "
                   "token): dropped"}]


def test_r003_text_at_the_end_of_the_input(enc):
    tokens = toks(enc, "<|channel|>final<|message|>Hi<|return|> trailing")
    found = check(enc, tokens)
    assert [d.to_dict() for d in found.diagnostics] == [{
        "severity": "warning", "code": "R003", "token": 5, "span": [5, len(tokens)],
        "message": "' trailing' begins no message (no <|message|> follows before the end of the input): dropped"}]


def test_r003_a_header_abandoned_by_a_later_start(enc):
    tokens = toks(enc, "<|channel|>final<|message|>Hi<|end|><|start|>assistant<|channel|>analysis"
                       "<|start|>assistant<|channel|>final<|message|>Bye<|return|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "final", "content": "Hi"},
        {"role": "assistant", "channel": "final", "content": "Bye"}]
    assert found.spans == [(0, 5), (9, len(tokens))]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R003", "token": 5, "span": [5, 9],
        "message": "'<|start|>assistant<|channel|>analysis' begins no message (no <|message|> follows before "
                   "<|start|>): dropped"}]


def test_r004_extra_start_before_the_role(enc):
    tokens = toks(enc, "<|channel|>final<|message|>Hi<|end|><|start|><|start|>assistant<|channel|>final"
                       "<|message|>Bye<|return|>")
    found = check(enc, tokens)
    assert found.spans == [(0, 5), (6, len(tokens))]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R004", "token": 5, "span": [5, 6],
        "message": "<|start|> repeated before the role: the extra one is dropped"}]


def test_r004_without_a_role_given(enc):
    tokens = toks(enc, "<|start|><|start|>assistant<|channel|>final<|message|>Hi<|return|>")
    found = check(enc, tokens, None)
    assert [summary(m) for m in found.messages] == [{"role": "assistant", "channel": "final", "content": "Hi"}]
    assert found.spans == [(1, len(tokens))] and [d.code for d in found.diagnostics] == ["R004"]


def test_r005_recipient_repeated(enc):
    found = check(enc, toks(enc, "<|channel|>commentary to=functions.x to=functions.x<|message|>{}<|call|>"))
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "commentary", "recipient": "functions.x", "content": "{}"}]
    assert diagnostics(found) == [{"severity": "warning", "code": "R005", "token": 0,
                                   "message": "recipient 'to=functions.x' written 2 times: read once"}]


def test_r006_two_recipients(enc):
    found = check(enc, toks(enc, "<|channel|>commentary to=functions.x to=functions.y<|message|>{}<|call|>"))
    assert found.messages[0].recipient == "functions.x"
    assert diagnostics(found) == [{"severity": "warning", "code": "R006", "token": 0,
                                   "message": "recipient 'to=functions.x' and then 'to=functions.y': "
                                              "the first is kept"}]


def test_r007_empty_channel(enc):
    found = check(enc, toks(enc, "<|channel|><|message|>Hi<|end|>"))
    assert [summary(m) for m in found.messages] == [{"role": "assistant", "content": "Hi"}]
    assert diagnostics(found) == [{"severity": "warning", "code": "R007", "token": 0,
                                   "message": "<|channel|> with no channel name after it: read as no channel"}]


def test_r008_constrain_word_is_never_the_recipient(enc):
    tokens = toks(enc, "<|channel|>final <|constrain|>response<|message|>x<|return|>")
    strict = enc.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT)
    assert strict[0].recipient == "<|constrain|>response"  # the strict rules' reading, kept as the reference's
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "final", "content_type": "<|constrain|>response", "content": "x"}]
    assert diagnostics(found) == [{"severity": "warning", "code": "R008", "token": 0,
                                   "message": "'<|constrain|>response' is a content type, not a recipient"}]


def test_r009_stop_token_inside_a_header(enc):
    tokens = toks(enc, "<|channel|>commentary to=functions.x<|call|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "commentary", "recipient": "functions.x", "content": ""}]
    assert found.spans == [(0, len(tokens))]
    assert diagnostics(found) == [{
        "severity": "warning", "code": "R009", "token": 0,
        "message": "stop token <|call|> inside the header, before <|message|>: the message has empty content"}]


def test_r009_then_a_message_after_the_stop(enc):
    tokens = toks(enc, "<|channel|>analysis<|end|>final<|message|>Hi<|return|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "analysis", "content": ""},
        {"role": "assistant", "channel": "final", "content": "Hi"}]
    assert found.spans == [(0, 3), (3, len(tokens))]
    assert [d.code for d in found.diagnostics] == ["R009", "R002"]


def test_r010_unknown_words_in_the_header(enc):
    found = check(enc, toks(enc, "<|channel|>commentary to=functions.f <|constrain|>json please<|message|>{}"
                                 "<|call|>"))
    assert found.messages[0].recipient == "functions.f" and found.messages[0].content_type == "<|constrain|>json"
    assert diagnostics(found) == [{"severity": "warning", "code": "R010", "token": 0,
                                   "message": "unknown words in the header, 'please': left out, the message "
                                              "is kept"}]


def test_r011_end_of_input_inside_a_header(enc):
    tokens = toks(enc, "<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>final")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "analysis", "content": "a"},
        {"role": "assistant", "channel": "final", "content": ""}]
    assert found.spans == [(0, 5), (5, len(tokens))]
    assert diagnostics(found) == [{"severity": "warning", "code": "R011", "token": 5,
                                   "message": "the input ends inside a header: the message has empty content"}]


def test_r011_a_lone_start_at_the_end_is_dropped_not_a_message(enc):
    tokens = toks(enc, "<|channel|>final<|message|>a<|end|><|start|>")
    found = check(enc, tokens)
    assert len(found.messages) == 1
    assert [d.code for d in found.diagnostics] == ["R003"] and found.dropped() == [(5, 6)]


def test_r012_unknown_role(enc):
    tokens = toks(enc, "<|channel|>final<|message|>Hi<|end|><|start|>robot<|channel|>final<|message|>Bye<|end|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages][1] == {"role": "assistant", "channel": "final", "content": "Bye"}
    assert diagnostics(found) == [{"severity": "warning", "code": "R012", "token": 5,
                                   "message": "unknown role 'robot': read as a message from assistant"}]


def test_r013_integers_that_are_not_token_ids(enc):
    tokens = [-1] + toks(enc, "<|channel|>final<|message|>Hi") + [2**40] + toks(enc, "<|return|>")
    found = check(enc, tokens)
    assert [summary(m) for m in found.messages] == [
        {"role": "assistant", "channel": "final", "content": "Hi\ufffd"}]
    assert [d.code for d in found.diagnostics] == ["R013", "R014", "R013"]
    assert diagnostics(found)[2] == {"severity": "warning", "code": "R013", "token": 5,
                                     "message": f"{2**40!r} is not a token id (0..4294967295): read as an "
                                                "unknown token"}


def test_r013_non_integers_are_still_refused(enc):
    parser = StreamableParser(enc, Role.ASSISTANT, recover=True)
    with pytest.raises(HarmonyError, match=r"^token 0: expected an integer token id, found str 'x'$"):
        parser.process("x")  # type: ignore[arg-type]


def test_r014_header_not_utf8(enc):
    tokens = [200005] + [enc.encode("final")[0]] + [163, 200008] + toks(enc, "Hi<|return|>")
    found = check(enc, tokens)
    assert found.messages[0].content[0].text == "Hi"
    assert [d.code for d in found.diagnostics][0] == "R014"


# -- the invariants -----------------------------------------------------------------------


def test_well_formed_input_is_untouched(enc):
    rng = random.Random(11)
    accepted = corrected = 0
    for _ in range(400):
        tokens, role = generators.parse_case_tokens(rng, lambda s: toks(enc, s), enc.tokenizer.encode_ordinary)
        try:
            strict = enc.parse_messages_from_completion_tokens(tokens, role)
        except HarmonyError:
            continue
        found = check(enc, tokens, role)
        if not strict_reading_stands(strict, STRUCTURE, "<|constrain|>"):
            # The two strict readings recovery does not keep: a <|start|> or stop token read into a
            # header field, and a <|constrain|> word read as the recipient. Both are reported.
            corrected += 1
            assert found.diagnostics and found.messages != strict
            continue
        accepted += 1
        assert found.messages == strict and found.diagnostics == []
    assert accepted > 150 and corrected > 5


MALFORMATIONS = [
    "<|end|><|return|>", "<|end|>", "<|call|>", "<|return|><|return|>", "<|start|><|start|>assistant",
    "<|start|>", "<|channel|><|message|>", " to=functions.x to=functions.x", " <|constrain|>response",
    "commentary to=functions.x ", "final", "<|message|>", "<|channel|>", "junk words",
]


def malformed(rng: random.Random, enc) -> list[int]:
    """Well-formed completions with the failures servers report spliced in at random places."""
    tokens = generators.completion_tokens(rng, False, lambda s: toks(enc, s), enc.tokenizer.encode_ordinary)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randint(0, len(tokens))
        tokens[pos:pos] = toks(enc, rng.choice(MALFORMATIONS))
    return tokens


@pytest.mark.parametrize("seed", range(4))
def test_invariants_hold_on_malformed_completions(enc, seed):
    rng = random.Random(seed)
    seen: set[str] = set()
    for _ in range(150):
        found = check(enc, malformed(rng, enc))
        seen.update(d.code for d in found.diagnostics)
    assert {"R001", "R002", "R003"} <= seen


@pytest.mark.parametrize("seed", range(3))
def test_invariants_hold_on_random_integers(enc, seed):
    rng = random.Random(100 + seed)
    for _ in range(200):
        tokens = generators.random_tokens(rng) + (rng.choice([[], [-5], [2**33]]))
        role = rng.choice([Role.ASSISTANT, None, Role.USER])
        check(enc, tokens, role)


def test_deterministic(enc):
    tokens = malformed(random.Random(7), enc)
    assert enc.recover_messages_from_completion_tokens(tokens) == enc.recover_messages_from_completion_tokens(tokens)


def test_work_grows_linearly_with_the_input(enc, monkeypatch):
    """A header cut off again and again replays its tokens once, not once per cut: steps are counted, not timed."""
    calls = 0
    step = recover_module.RecoveringParser._step

    def counting(self, token, index):
        nonlocal calls
        calls += 1
        return step(self, token, index)

    monkeypatch.setattr(recover_module.RecoveringParser, "_step", counting)
    counts = []
    for n in (1000, 2000):
        calls = 0
        tokens = toks(enc, "<|channel|>final" + "<|end|>x" * n + "<|message|>Hi<|return|>")
        found = enc.recover_messages_from_completion_tokens(tokens, Role.ASSISTANT)
        assert len(found.messages) == 2 and found.messages[-1].content[0].text == "Hi"
        assert len(found.diagnostics) == 1 + (n - 1) + 2  # R009, R003 for each later "x<|end|>", R002 and R010
        counts.append(calls)
        # Each token: once as it comes, once more when the cut-off header is read again, and the
        # first token of a header without <|start|> once more when that header opens.
        assert calls <= 3 * len(tokens)
    assert counts[1] <= 2.05 * counts[0]


def test_strict_false_cannot_be_combined(enc):
    with pytest.raises(HarmonyError, match="recover=True reads well-formed output exactly as strict=True does"):
        StreamableParser(enc, Role.ASSISTANT, strict=False, recover=True)


def test_a_strict_parser_reports_no_spans_or_diagnostics(enc):
    parser = StreamableParser(enc, Role.ASSISTANT)
    assert parser.diagnostics == [] and parser.spans == []


def test_empty_input(enc):
    assert enc.recover_messages_from_completion_tokens([], Role.ASSISTANT) == Recovery([], [], [])
    assert enc.recover_messages_from_completion_tokens([]) == Recovery([], [], [])


def test_the_readme_table_is_the_policy_examples():
    """The README's table of recovery rows is generated from grammar/recovery.json's examples, row for row."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Recovering model output"):readme.index("## Dialects and customizing prompts")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == len(policy().examples)
    for row, example in zip(rows, policy().examples):
        wrote = row.split(" | ")[0][3:-1].replace("\\|", "|")
        assert wrote == example["wrote"]
        assert row.rstrip(" |").rsplit(" | ", 1)[1] == ", ".join(example["codes"])
