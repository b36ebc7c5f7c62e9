"""Where data files are found, and the on-disk cache of compiled grammars and templates.

The cache tests run fresh processes, so nothing compiled in this one is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harmony_grammar.resources import CACHE_ENV_VAR, cache_dir, data_dir

ROOT = Path(__file__).resolve().parent.parent

# Renders one message and parses one completion; prints which compiled forms were loaded from disk.
PROBE = r"""
import json, sys
import jinja2, lark
loads = {"lark": 0, "jinja": 0}
real_load = lark.Lark._load
def counting_load(self, *a, **k):
    loads["lark"] += 1
    return real_load(self, *a, **k)
lark.Lark._load = counting_load
real_bucket = jinja2.FileSystemBytecodeCache.load_bytecode
def counting_bucket(self, bucket):
    real_bucket(self, bucket)
    loads["jinja"] += bucket.code is not None
jinja2.FileSystemBytecodeCache.load_bytecode = counting_bucket
import harmony_grammar as h
enc = h.load_harmony_encoding("HarmonyGptOss", **json.loads(sys.argv[1]))
convo = h.Conversation.from_messages([h.Message.from_role_and_content(h.Role.USER, "Hi")])
tokens = enc.render_conversation_for_completion(convo, h.Role.ASSISTANT)
parsed = enc.parse_messages_from_completion_tokens(tokens[:5], None)  # the user message
print(json.dumps({"text": enc.decode(tokens), "parsed": [m.to_dict() for m in parsed], "loads": loads}))
"""


def probe(cache: str | None, **load_kwargs: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", CACHE_ENV_VAR)}
    env["PYTHONPATH"] = str(ROOT)
    if cache is not None:
        env[CACHE_ENV_VAR] = cache
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(load_kwargs)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


EXPECTED_TEXT = "<|start|>user<|message|>Hi<|end|><|start|>assistant"


def test_data_dirs_are_found_in_the_checkout():
    for name in ("grammar", "templates", "examples", "vocab"):
        assert data_dir(name).is_dir()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    assert cache_dir("grammar") == tmp_path / "grammar"
    monkeypatch.setenv(CACHE_ENV_VAR, "")
    assert cache_dir("grammar") is None
    monkeypatch.delenv(CACHE_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("templates") == tmp_path / "xdg" / "harmony-grammar" / "templates"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir("templates") == Path.home() / ".cache" / "harmony-grammar" / "templates"


def test_a_second_process_loads_what_the_first_compiled(tmp_path):
    first = probe(str(tmp_path))
    assert first["text"] == EXPECTED_TEXT and first["loads"] == {"lark": 0, "jinja": 0}
    tables = sorted(p.name for p in (tmp_path / "grammar").iterdir())
    assert len(tables) == 1 and tables[0].startswith("harmony-") and tables[0].endswith(".lark-tables")
    assert oct((tmp_path / "grammar").stat().st_mode & 0o777) == "0o700"
    assert len(list((tmp_path / "templates").rglob("*.cache"))) == 2  # header.jinja and next_turn.jinja
    second = probe(str(tmp_path))
    assert second["text"] == first["text"] and second["parsed"] == first["parsed"]
    assert second["loads"] == {"lark": 1, "jinja": 2}


def test_an_empty_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = probe("")
    assert result["text"] == EXPECTED_TEXT and result["loads"] == {"lark": 0, "jinja": 0}
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_cache_folder_only_costs_time(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = probe(str(blocker))
    assert result["text"] == EXPECTED_TEXT and result["loads"] == {"lark": 0, "jinja": 0}


def test_a_damaged_table_file_is_compiled_again(tmp_path):
    probe(str(tmp_path))
    (table,) = (tmp_path / "grammar").iterdir()
    table.write_bytes(table.read_bytes()[:100])
    result = probe(str(tmp_path))
    assert result["text"] == EXPECTED_TEXT and result["parsed"][0]["content"] == [{"type": "text", "text": "Hi"}]


def test_an_edited_template_is_compiled_again(tmp_path):
    templates = tmp_path / "templates-of-mine"
    templates.mkdir()
    shutil.copy(data_dir("templates") / "next_turn.jinja", templates / "next_turn.jinja")
    cache = str(tmp_path / "cache")
    assert probe(cache, template_dir=str(templates))["text"] == EXPECTED_TEXT
    source = (templates / "next_turn.jinja").read_text(encoding="utf-8")
    assert "role" in source
    (templates / "next_turn.jinja").write_text(source.replace("{{ role }}", "{{ role }}:x"), encoding="utf-8")
    assert probe(cache, template_dir=str(templates))["text"] == EXPECTED_TEXT + ":x"


@pytest.mark.parametrize("name", ["harmony.lark"])
def test_table_names_carry_the_source_hash(tmp_path, name):
    probe(str(tmp_path))
    (table,) = (tmp_path / "grammar").iterdir()
    key = table.name.removeprefix(Path(name).stem + "-").removesuffix(".lark-tables")
    assert len(key) == 24 and all(c in "0123456789abcdef" for c in key)
