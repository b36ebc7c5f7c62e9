"""harmony-grammar render-dataset: order, workers, bad lines, atomic output, Parquet, progress."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys

import pytest

import generators as g
from optional import need
from harmony_grammar import conversation_from_chat, load_harmony_encoding
from harmony_grammar.integrations import dataset_files
from harmony_grammar.cli import main
from harmony_grammar.integrations.datasets import render_record


def write_records(path, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        messages = g.chat_messages(rng)
        rows.append(json.loads(conversation_from_chat(messages).to_json()) if i % 4 == 3 else {"messages": messages})
    path.write_text("".join(json.dumps(r, ensure_ascii=bool(i % 2)) + "\n" for i, r in enumerate(rows)),
                    encoding="utf-8")
    return rows


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["render-dataset", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rows_are_the_masked_renderings_in_order(tmp_path, capsys):
    rows = write_records(tmp_path / "in.jsonl", 40)
    code, out, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))
    assert (code, out, err) == (0, "", "40 written, 0 skipped\n")
    enc = load_harmony_encoding("HarmonyGptOss")
    lines = (tmp_path / "out.jsonl").read_text(encoding="ascii").splitlines()
    assert [json.loads(line) for line in lines] == [
        dict(zip(("input_ids", "loss_mask"), render_record(enc, r))) for r in rows]
    assert lines[0].startswith('{"input_ids":[200006,17360,200008,')


def test_two_workers_write_the_same_bytes_as_one(tmp_path, capsys):
    write_records(tmp_path / "in.jsonl", 300, seed=1)
    for workers in ("1", "2"):
        code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / f"out{workers}.jsonl"),
                           "--workers", workers, "--train-on", "all_assistant", "--keep-analysis")
        assert (code, err) == (0, "300 written, 0 skipped\n")
    assert (tmp_path / "out1.jsonl").read_bytes() == (tmp_path / "out2.jsonl").read_bytes()


BAD = (
    '{"messages": [{"role": "user", "content": "a"}]}\n'
    "not json\n"
    "\n"
    '{"messages": [{"role": "robot", "content": "b"}]}\n'
    '{"messages": [{"role": "user", "content": "c"}]}\n'
)


def test_a_bad_line_stops_the_run_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text(BAD, encoding="utf-8")
    (tmp_path / "out.jsonl").write_text("previous\n", encoding="utf-8")
    code, out, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))
    assert (code, out) == (1, "")
    assert err == (f"{tmp_path / 'in.jsonl'}:2: error: invalid JSON at column 1: Expecting value\n"
                   f"stopped at line 2 (--on-error skip goes on past bad lines); {tmp_path / 'out.jsonl'} not written\n"
                   "0 written, 0 skipped\n")
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_skipped_lines_are_reported_and_counted(tmp_path, capsys, workers):
    (tmp_path / "in.jsonl").write_text(BAD, encoding="utf-8")
    code, out, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--on-error", "skip",
                         "--workers", workers)
    where = tmp_path / "in.jsonl"
    assert (code, out) == (1, "")
    assert err == (f"{where}:2: error: invalid JSON at column 1: Expecting value\n"
                   f"{where}:4: error: messages[0].role: unknown role 'robot' "
                   "(expected system, developer, user, assistant or tool)\n"
                   "2 written, 2 skipped\n")
    assert len((tmp_path / "out.jsonl").read_text(encoding="ascii").splitlines()) == 2


def test_input_shape_can_be_forced(tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text('{"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}\n',
                                       encoding="utf-8")
    code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))
    assert code == 1 and "cannot tell whether this is the harmony or the chat shape" in err
    for shape in ("harmony", "chat"):
        code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / f"{shape}.jsonl"), "--input", shape)
        assert (code, err) == (0, "1 written, 0 skipped\n")
    harmony = json.loads((tmp_path / "harmony.jsonl").read_text(encoding="ascii"))["input_ids"]
    chat = json.loads((tmp_path / "chat.jsonl").read_text(encoding="ascii"))["input_ids"]
    assert harmony == [200006, 1428, 200008, 87, 200007] and chat[-5:] == harmony and len(chat) > 5


def test_an_interrupted_run_leaves_no_file(tmp_path, monkeypatch):
    write_records(tmp_path / "in.jsonl", 200)
    calls = []

    def broken(chunk):
        calls.append(len(chunk))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(chunk)

    real = dataset_files.render_chunk
    monkeypatch.setattr(dataset_files, "render_chunk", broken)
    job = dataset_files.DatasetJob(source=str(tmp_path / "in.jsonl"), target=str(tmp_path / "out.jsonl"))
    with pytest.raises(KeyboardInterrupt):
        dataset_files.run_job(job, io.StringIO())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_parquet_output_holds_the_same_rows(tmp_path, capsys):
    pq = need("pyarrow.parquet")
    write_records(tmp_path / "in.jsonl", 50, seed=2)
    run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))
    for workers in ("1", "2"):
        code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / f"out{workers}.parquet"),
                           "--output-format", "parquet", "--workers", workers)
        assert (code, err) == (0, "50 written, 0 skipped\n")
    table = pq.read_table(tmp_path / "out1.parquet")
    assert str(table.schema.field("input_ids").type) == "list<element: int32>"
    expected = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="ascii").splitlines()]
    assert table.to_pylist() == expected
    assert (tmp_path / "out1.parquet").read_bytes() == (tmp_path / "out2.parquet").read_bytes()


def test_parquet_without_pyarrow_is_a_usage_error(tmp_path, capsys, monkeypatch):
    write_records(tmp_path / "in.jsonl", 1)
    monkeypatch.setattr(dataset_files, "parquet_available", lambda: False)
    code, out, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "o.parquet"), "--output-format", "parquet")
    assert (code, out) == (2, "")
    assert err == (f"{tmp_path / 'o.parquet'}: error: --output-format parquet needs pyarrow "
                   "(pip install 'harmony-grammar[parquet]')\n")


def test_progress_line(tmp_path, capsys):
    write_records(tmp_path / "in.jsonl", 20)
    code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--progress", "always")
    assert code == 0
    last = err.split("\r")[-1]
    assert last.startswith("20 lines  ") and " lines/s  100%  ETA 0:00\x1b[K\n" in last
    assert err.endswith("20 written, 0 skipped\n")
    code, _, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))  # stderr is no terminal
    assert err == "20 written, 0 skipped\n"


def test_missing_input_and_unwritable_output(tmp_path, capsys):
    code, out, err = run(capsys, str(tmp_path / "nope.jsonl"), str(tmp_path / "out.jsonl"))
    assert (code, out, err) == (2, "", f"{tmp_path / 'nope.jsonl'}: error: cannot read or write: No such file or directory\n")
    write_records(tmp_path / "in.jsonl", 1)
    code, out, err = run(capsys, str(tmp_path / "in.jsonl"), str(tmp_path / "no-dir" / "out.jsonl"))
    assert code == 2 and err.startswith(f"{tmp_path / 'no-dir'}")


def test_stdin_as_a_program(tmp_path):
    rows = write_records(tmp_path / "in.jsonl", 5)
    proc = subprocess.run([sys.executable, "-m", "harmony_grammar", "render-dataset", "-", str(tmp_path / "o.jsonl")],
                          input=(tmp_path / "in.jsonl").read_bytes(), capture_output=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"5 written, 0 skipped\n")
    assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == len(rows)
