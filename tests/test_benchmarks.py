"""The benchmark script runs end to end on tiny inputs. Timings are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reference

ROOT = Path(__file__).resolve().parent.parent


def test_compare_runs_every_figure_on_tiny_inputs(oss_oracle):
    python, why = reference.ensure("oss-harmony")
    assert python is not None, why
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("machine: ")
    results = json.loads(lines[-1])
    assert sorted(results) == ["a", "a2", "a3", "b", "c", "d", "e", "f256", "f64", "g", "h1", "h2"]
    assert "render-dataset: " in out.stdout and " conv/s with 1 worker, " in out.stdout
    for figure in results.values():
        assert set(figure) == {"ours", "reference", "unit", "ratio", "rss_ours_mb", "rss_reference_mb"}
        assert figure["ours"] > 0 and figure["reference"] > 0


@pytest.mark.parametrize("figure", ["b", "d", "e"])
def test_runner_measures_the_same_work_on_both_sides(oss_oracle, figure):
    """Both sides render or parse the same number of tokens."""
    python, why = reference.ensure("oss-harmony")
    assert python is not None, why
    counts = []
    for interpreter, module in ((sys.executable, "harmony_grammar"), (str(python), "openai_harmony")):
        out = subprocess.run([interpreter, str(ROOT / "benchmarks" / "runner.py"), module, figure, "--quick"],
                             capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        counts.append(json.loads(out.stdout.strip().splitlines()[-1])["tokens"])
    assert counts[0] == counts[1] > 500


def test_recovery_benchmark_runs_on_tiny_inputs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recovery.py"), "--quick"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("well-formed: ") and " repairs" in lines[0]
    assert [line.split("  ")[0] for line in lines[2:6]] == [
        "well-formed, batch", "well-formed, per token", "malformed, batch", "malformed, per token"]
    figures = json.loads(lines[-1])
    assert set(figures) == {"batch_ratio", "token_ratio", "malformed_batch_s_per_token",
                            "malformed_stream_s_per_token"}
    assert all(v > 0 for v in figures.values())


def test_startup_profile_runs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--runs", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["phase", "ms"] and lines[-1].startswith("sum of the medians")
    assert any(line.startswith("first render") for line in lines)


def test_constrain_benchmark_runs_on_tiny_inputs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "constrain.py"), "--quick"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("grammar: ")
    assert lines[2].split() == ["what", "p50", "p99", "target"]
    assert [line.split("  ")[0] for line in lines[3:-1]] == [
        "grammar text (completion_grammar)", "compile (grammar.compile())", "compile, tool_choice none",
        "compile, tool_choice tool_3", "copy of a compiled one (deep_copy)", "tokenizer (lltokenizer, once)",
        "mask (fill_next_token_bitmask)", "mask, mean", "mask (compute_bitmask)", "consume_token", "batch step, 4 masks (_par)",
        "batch, per sequence", "batch step, 4 copies (_par)", "batch step, 4 masks one by one"]
    figures = json.loads(lines[-1])
    assert set(figures) == {
        "tokens", "text_ms", "compile_ms", "compile_none_ms", "compile_named_ms", "copy_us", "tokenizer_ms",
        "mask_p50_us", "mask_p99_us", "mask_mean_us", "compute_bitmask_p50_us", "compute_bitmask_p99_us", "consume_p50_us",
        "consume_p99_us", "batch", "batch_steps", "batch_step_p50_us", "batch_step_p99_us", "batch_per_sequence_us",
        "batch_copies_step_p50_us", "batch_copies_step_p99_us", "batch_one_by_one_step_p50_us",
        "batch_one_by_one_step_p99_us"}
    assert figures["batch"] == 4 and figures["batch_steps"] == figures["tokens"] > 100
    assert all(v > 0 for v in figures.values())


def test_chat_template_benchmark_runs_on_tiny_inputs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chat_template.py"), "--quick", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("chat: 9 messages, 12 tools, ")
    figures = json.loads(lines[-1])
    assert {"export_ms", "compile_ms", "render_ms", "apply_text_ms", "apply_tokens_ms"} <= set(figures)
    assert [line.split()[0] for line in lines[2:-1]] == list(figures)
    assert all(v > 0 for v in figures.values())
