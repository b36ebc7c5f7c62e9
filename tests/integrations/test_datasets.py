"""harmony_grammar.integrations.datasets: records and batches, and the Hugging Face datasets and Ray Data integrations."""

from __future__ import annotations

import json
import random

import pytest

import generators as g
from optional import need
from harmony_grammar import HarmonyError, RenderConversationConfig, conversation_from_chat
from harmony_grammar.example import example_conversation
from harmony_grammar.integrations.datasets import conversation_from_record, detect_shape, render_batch, render_record

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def records(n: int, seed: int = 0) -> list[dict]:
    """Chat records (some with tools and settings) and harmony records, mixed."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append(json.loads(conversation_from_chat(g.chat_messages(rng), [WEATHER]).to_json()))
        else:
            record = {"id": i, "messages": g.chat_messages(rng)}
            if i % 2:
                record.update(tools=[WEATHER], reasoning_effort="high")
            out.append(record)
    return out


@pytest.mark.parametrize(("record", "shape"), [
    ({"messages": [{"role": "user", "content": "Hi"}]}, "chat"),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": []}]}, "chat"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "tools": []}, "chat"),
    ({"messages": [{"role": "assistant", "content": [{"type": "text", "text": "Hi"}], "channel": "final"}]},
     "harmony"),
    (json.loads(example_conversation().to_json()), "harmony"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}, None),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [], "channel": "final"}]},
     None),
])
def test_detect_shape(record, shape):
    assert detect_shape(record) == shape


def test_records_become_the_conversations_they_hold():
    example = example_conversation()
    assert conversation_from_record(example.to_json()) == example
    assert conversation_from_record(json.loads(example.to_json()), "harmony") == example
    chat = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER], "reasoning_effort": "low",
            "id": "ignored"}
    expected = conversation_from_chat(chat["messages"], [WEATHER], reasoning_effort="low")
    assert conversation_from_record(chat) == expected
    as_text = dict(chat, messages=json.dumps(chat["messages"]), tools=json.dumps([WEATHER]))
    assert conversation_from_record(as_text) == expected


@pytest.mark.parametrize(("record", "shape", "message"), [
    ('{"messages": [', "auto", "invalid JSON at column 15: Expecting value"),
    ("[1]", "auto", "expected a JSON object with 'messages', found list"),
    ({"messages": None}, "auto", "messages: expected a list of messages, found null"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "auto",
     "cannot tell whether this is the harmony or the chat shape; say which (--input harmony|chat, or shape=)"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "chat",
     "messages[0].role: unknown role 'robot' (expected system, developer, user, assistant or tool)"),
    ({"messages": [{"role": "user", "content": "x"}]}, "yaml", "shape: expected one of auto, harmony, chat, found 'yaml'"),
    ({"messages": "[1,"}, "auto", "messages: a string here must be JSON text: Expecting value: line 1 column 4 (char 3)"),
])
def test_bad_records(record, shape, message):
    with pytest.raises(HarmonyError) as info:
        conversation_from_record(record, shape)
    assert str(info.value) == message


def test_render_record_is_the_masked_training_render(enc):
    record = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    convo = conversation_from_chat(record["messages"])
    assert render_record(enc, record) == enc.render_conversation_for_training_with_mask(convo)
    keep = RenderConversationConfig(auto_drop_analysis=False)
    assert render_record(enc, record, train_on="all_assistant", config=keep) == \
        enc.render_conversation_for_training_with_mask(convo, keep, train_on="all_assistant")


def test_render_batch_reads_messages_columns_with_arrow_nulls(enc):
    rows = records(12)
    names = sorted({k for r in rows for k in r})
    columns = {name: [r.get(name) for r in rows] for name in names}
    # What a columnar store hands back: every message has every key, absent ones as null.
    keys = {k for r in rows for m in r["messages"] for k in m}
    columns["messages"] = [[{k: m.get(k) for k in sorted(keys)} for m in r["messages"]] for r in rows]
    out = render_batch(columns)
    expected = [render_record(enc, r) for r in rows]
    assert out == {"input_ids": [e[0] for e in expected], "loss_mask": [e[1] for e in expected]}


def test_render_batch_reads_a_text_column(enc):
    rows = records(6, seed=1)
    out = render_batch({"text": [json.dumps(r) for r in rows]}, train_on="all_assistant")
    assert out["input_ids"] == [render_record(enc, r, train_on="all_assistant")[0] for r in rows]


def test_render_batch_names_the_bad_row():
    with pytest.raises(HarmonyError, match=r"^batch row 1: messages\[0\]\.role: unknown role 'robot'"):
        render_batch({"messages": [[{"role": "user", "content": "a"}], [{"role": "robot", "content": "b"}]]})
    with pytest.raises(HarmonyError, match=r"^batch: no 'messages' or 'text' column \(columns: id\)$"):
        render_batch({"id": [1]})


# -- the engines ------------------------------------------------------------------


def _jsonl(tmp_path, rows) -> str:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_hugging_face_datasets_map(tmp_path, enc):
    datasets = need("datasets")
    rows = [r for r in records(40, seed=2) if "id" in r]  # one shape per file, as datasets infers one schema
    ds = datasets.load_dataset("json", data_files=_jsonl(tmp_path, rows), split="train",
                               cache_dir=str(tmp_path / "cache"))
    out = ds.map(render_batch, batched=True, batch_size=8, num_proc=2, remove_columns=ds.column_names)
    assert out.column_names == ["input_ids", "loss_mask"]
    expected = [render_record(enc, r) for r in rows]
    assert out["input_ids"] == [e[0] for e in expected]
    assert out["loss_mask"] == [e[1] for e in expected]


def test_hugging_face_text_dataset_of_mixed_shapes(tmp_path, enc):
    datasets = need("datasets")
    rows = records(30, seed=3)
    ds = datasets.load_dataset("text", data_files=_jsonl(tmp_path, rows), split="train",
                               cache_dir=str(tmp_path / "cache"))
    out = ds.map(render_batch, batched=True, remove_columns=["text"])
    assert out["input_ids"] == [render_record(enc, r)[0] for r in rows]


@pytest.fixture(scope="module")
def ray_local():
    ray = need("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # rows come back in input order, to compare them
    yield ray
    ray.shutdown()


def test_ray_data_map_batches(tmp_path, enc, ray_local):
    rows = records(30, seed=4)
    path = _jsonl(tmp_path, rows)
    out = ray_local.data.read_text(path).map_batches(render_batch, batch_size=7).take_all()
    assert [list(o["input_ids"]) for o in out] == [render_record(enc, r)[0] for r in rows]
    assert [list(o["loss_mask"]) for o in out] == [render_record(enc, r)[1] for r in rows]
    # read_json needs rows Arrow can give one schema; simple chat rows are such.
    chat_only = [{"messages": [{"role": "user", "content": f"Q{i}"},
                               {"role": "assistant", "content": f"A{i}", "reasoning_content": "r" * i}]}
                 for i in range(5)]
    path2 = tmp_path / "chat.jsonl"
    path2.write_text("".join(json.dumps(r) + "\n" for r in chat_only), encoding="utf-8")
    out = ray_local.data.read_json(str(path2)).map_batches(render_batch).take_all()
    assert sorted(list(o["input_ids"]) for o in out) == sorted(render_record(enc, r)[0] for r in chat_only)
