"""ChatStreamAdapter: deltas per token, equal to the batch result when concatenated."""

from __future__ import annotations

import random
import warnings

import pytest

import generators as g
from harmony_grammar import ChatStreamAdapter, HarmonyError, HarmonyWarning, Role, merge_deltas
from harmony_grammar.integrations.chat.convert import chat_message_from_tokens, tool_call_id

FIELDS = {"content", "reasoning_content", "tool_calls"}


def stream(enc, tokens, role=Role.ASSISTANT, **kwargs):
    adapter = ChatStreamAdapter(enc, role, call_id_seed="s", **kwargs)
    per_token = [adapter.process(t) for t in tokens]
    per_token.append(adapter.process_eos())
    return adapter, per_token


def flat(per_token):
    return [d for ds in per_token for d in ds]


def test_tool_call_deltas(enc):
    tokens = enc.encode('<|channel|>commentary<|message|>On it.<|end|><|start|>assistant<|channel|>commentary '
                        'to=functions.get_weather <|constrain|>json<|message|>{"city":"SF"}<|call|>',
                        allowed_special="all")
    adapter, per_token = stream(enc, tokens)
    deltas = flat(per_token)
    first_call = next(i for i, d in enumerate(deltas) if "tool_calls" in d)
    assert deltas[:first_call] == [{"role": "assistant", "content": "On"}, {"content": " it"}, {"content": "."}]
    assert deltas[first_call] == {"tool_calls": [{"index": 0, "id": tool_call_id("s", 0), "type": "function",
                                                  "function": {"name": "get_weather", "arguments": ""}}]}
    args = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[first_call + 1:]]
    assert "".join(args) == '{"city":"SF"}' and len(args) > 1
    assert all(d["tool_calls"][0] == {"index": 0, "function": {"arguments": a}}
               for d, a in zip(deltas[first_call + 1:], args))
    # The header delta comes with the <|message|> token, before any argument.
    message_at = tokens.index(200008, tokens.index(200008) + 1)
    assert per_token[message_at] == [deltas[first_call]]
    assert adapter.finish_reason == "tool_calls"
    assert merge_deltas(deltas) == adapter.message() == chat_message_from_tokens(enc, tokens, call_id_seed="s")


def byte_token(enc, b: int) -> int:
    return enc.tokenizer.token_bytes.index(bytes([b]))


def test_cut_off_utf8_is_held_back_until_complete(enc):
    text = "日本語🙂"
    data = text.encode("utf-8")
    tokens = enc.encode("<|channel|>final<|message|>", allowed_special="all") + [byte_token(enc, b) for b in data]
    adapter, per_token = stream(enc, tokens)
    contents = [d["content"] for d in flat(per_token)]
    assert contents == ["日", "本", "語", "🙂"]
    assert [len(ds) for ds in per_token[-len(data) - 1:-1]] == [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]


def test_a_cut_off_character_at_the_end_is_sent_at_eos(enc):
    tokens = enc.encode("<|channel|>final<|message|>a", allowed_special="all") + \
        [byte_token(enc, b) for b in "é".encode()[:1]]
    adapter, per_token = stream(enc, tokens)
    assert per_token[-1] == [{"content": "\ufffd"}]
    assert merge_deltas(flat(per_token)) == chat_message_from_tokens(enc, tokens, call_id_seed="s")


def test_empty_completion_sends_the_role_at_eos(enc):
    adapter, per_token = stream(enc, enc.encode("<|channel|>final<|message|><|return|>", allowed_special="all"))
    assert flat(per_token) == [{"role": "assistant", "content": ""}]
    assert adapter.message() == {"role": "assistant", "content": ""}


def test_strict_stream_raises_with_the_token_index(enc):
    tokens = enc.encode("<|channel|>final<|message|>Hi<|end|><|start|>user<|message|>more", allowed_special="all")
    adapter = ChatStreamAdapter(enc)
    with pytest.raises(HarmonyError, match=r"^token 7: a message from 'user' in a completion; "
                                           r"expected assistant messages only$"):
        for t in tokens:
            adapter.process(t)


def test_lenient_stream_reads_a_user_message_as_the_assistants(enc):
    tokens = enc.encode("<|channel|>final<|message|>Hi<|end|><|start|>user<|message|>more", allowed_special="all")
    with pytest.warns(HarmonyWarning, match=r"^token 7: a message from 'user' in a completion; expected assistant "
                                            r"messages only \(read as the assistant's\)$"):
        adapter, per_token = stream(enc, tokens, lenient=True)
    assert flat(per_token) == [{"role": "assistant", "content": "Hi"}, {"content": "\n\nmore"}]
    assert adapter.message() == {"role": "assistant", "content": "Hi\n\nmore"}
    assert len(adapter.warnings) == 1


def test_lenient_stream_warns_once_per_repair_and_calls_a_recovered_tool(enc):
    tokens = enc.encode("<|channel|>commentary to=functions.f to=functions.f<|message|>{}<|call|><|return|>",
                        allowed_special="all")
    with pytest.warns(HarmonyWarning):
        adapter, per_token = stream(enc, tokens, lenient=True)
    assert [w.rsplit(" [", 1)[1] for w in adapter.warnings] == ["R005]", "R001]"]
    assert adapter.finish_reason == "tool_calls"
    assert adapter.message()["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}


@pytest.mark.parametrize("seed", range(400))
def test_concatenated_deltas_equal_the_batch_result(seed, enc):
    rng = random.Random(seed)
    tokens = enc.encode(g.assistant_completion(rng), allowed_special="all")
    adapter, per_token = stream(enc, tokens)
    deltas = flat(per_token)
    for i, d in enumerate(deltas):
        assert len(set(d) & FIELDS) == 1, d  # one channel per delta
        assert set(d) - FIELDS <= ({"role"} if i == 0 else set())
    batch = chat_message_from_tokens(enc, tokens, call_id_seed="s")
    assert merge_deltas(deltas) == adapter.message() == batch
    assert adapter.finish_reason == ("tool_calls" if "tool_calls" in batch else "stop")


@pytest.mark.parametrize("seed", range(400))
def test_lenient_stream_equals_lenient_batch_on_any_tokens(seed, enc):
    rng = random.Random(seed)
    tokens, role = g.parse_case_tokens(rng, lambda t: enc.encode(t, allowed_special="all"),
                                       enc.tokenizer.encode_ordinary)
    role = Role.ASSISTANT if role is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarmonyWarning)
        adapter, per_token = stream(enc, tokens, role, lenient=True)
        batch = chat_message_from_tokens(enc, tokens, role, lenient=True, call_id_seed="s")
    assert merge_deltas(flat(per_token)) == adapter.message() == batch
    try:
        strict = chat_message_from_tokens(enc, tokens, role, call_id_seed="s")
    except HarmonyError:
        assert adapter.warnings or not tokens  # an empty completion has nothing to repair
        with pytest.raises(HarmonyError):
            stream(enc, tokens, role)
    else:
        assert strict == batch or adapter.warnings  # lenient leaves special tokens out of the text, and says so
