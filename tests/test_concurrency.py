"""Thread safety: one shared HarmonyEncoding, separate StreamableParsers, concurrent loading.

Every test runs the work serially first, then from 8 threads started together
(with a tiny switch interval so the threads interleave often), and requires
identical results. On a free-threaded CPython (``sys._is_gil_enabled()`` is
False) the same tests run without the GIL; on the usual build they run with it
(``test_report_the_build`` records which).
"""

from __future__ import annotations

import json
import random
import sys
import threading

import pytest

import generators
from harmony_grammar import (
    Conversation,
    HarmonyError,
    Message,
    RenderConversationConfig,
    RenderOptions,
    Role,
    StreamableParser,
    load_harmony_encoding,
)
from harmony_grammar.engine import render as render_module
from harmony_grammar.resources import load_json

N_THREADS = 8
PER_THREAD = 250

FREE_THREADED = hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled()


@pytest.fixture
def busy_switching():
    """Switch threads as often as CPython allows, so that they interleave inside library calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def in_threads(work, args_per_thread):
    """Run ``work(*args)`` in one thread per args, all released at once; results in order, errors re-raised."""
    barrier = threading.Barrier(len(args_per_thread))
    results: list = [None] * len(args_per_thread)
    errors: list = []

    def run(i, args):
        try:
            barrier.wait()
            results[i] = work(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_per_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def test_report_the_build():
    """Which build ran the suite (the tests below run on either)."""
    if FREE_THREADED:
        print("free-threaded CPython: the concurrency tests ran without the GIL")
    else:
        print("CPython with the GIL: the concurrency tests ran with it "
              "(no free-threaded interpreter here; they run unchanged on one)")


# -- one shared encoding ------------------------------------------------------------------------


def _cases(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    builtin = {n: load_json("templates", "tools", f"{n}.json") for n in ("browser", "python")}
    return [generators.render_case(rng, builtin) for _ in range(n)]


def _render_and_parse(enc, case: dict) -> object:
    """Render a generated case and parse the tokens back; every outcome, errors included, as plain data."""
    try:
        if case["op"] == "render":
            msg = Message.from_dict(case["message"])
            opt = case["options"]
            tokens = enc.render(msg, None if opt is None else RenderOptions(conversation_has_function_tools=opt))
        else:
            convo = Conversation.from_json(json.dumps(case["conversation"]))
            drop = case["auto_drop_analysis"]
            config = None if drop is None else RenderConversationConfig(auto_drop_analysis=drop)
            if case["mode"] == "completion":
                tokens = enc.render_conversation_for_completion(convo, Role(case["next_role"]), config)
            elif case["mode"] == "training":
                tokens = enc.render_conversation_for_training(convo, config)
            else:
                tokens = enc.render_conversation(convo, config)
    except (HarmonyError, ValueError) as exc:
        return ("render error", type(exc).__name__, str(exc))
    try:
        parsed = [m.to_dict() for m in enc.parse_messages_from_completion_tokens(tokens, None)]
    except HarmonyError as exc:
        parsed = ("parse error", type(exc).__name__, str(exc))
    return tokens, parsed


def test_shared_encoding_renders_and_parses_like_a_serial_run(enc, busy_switching, monkeypatch):
    # A tiny cache limit makes the renderer's caches fill and clear all the time, under contention.
    monkeypatch.setattr(render_module, "_CACHE_LIMIT", 8)
    slices = [_cases(1000 + i, PER_THREAD) for i in range(N_THREADS)]
    serial = [[_render_and_parse(enc, c) for c in cases] for cases in slices]
    assert sum(isinstance(r[0], list) for s in serial for r in s) > 0.7 * N_THREADS * PER_THREAD
    parallel = in_threads(lambda cases: [_render_and_parse(enc, c) for c in cases], [(s,) for s in slices])
    for i in range(N_THREADS):
        assert parallel[i] == serial[i], f"thread {i} differs from the serial run"


def test_every_thread_renders_the_same_conversations(enc, busy_switching):
    """All threads on the same inputs at once (the renderer's caches see the same keys concurrently)."""
    cases = _cases(77, PER_THREAD)
    serial = [_render_and_parse(enc, c) for c in cases]
    parallel = in_threads(lambda: [_render_and_parse(enc, c) for c in cases], [()] * N_THREADS)
    for i, result in enumerate(parallel):
        assert result == serial, f"thread {i} differs from the serial run"


# -- separate streaming parsers -----------------------------------------------------------------


def _completions(enc) -> list[tuple[list[int], str | None]]:
    """Eight different completions of several messages; odd ones mutated or random (errors mid-stream)."""
    rng = random.Random(5)
    encode = lambda s: enc.encode(s, allowed_special="all")  # noqa: E731
    ordinary = enc.tokenizer.encode_ordinary
    out: list[tuple[list[int], str | None]] = []
    for i in range(N_THREADS):
        tokens: list[int] = []
        for _ in range(6):
            if i % 2:
                part, _role = generators.parse_case_tokens(rng, encode, ordinary)
            else:
                part = generators.completion_tokens(rng, True, encode, ordinary)
            tokens += part if part[:1] == [200006] else [200006, *part]
        out.append((tokens, None))
    out[2] = (out[2][0][1:], "assistant")  # one starts after <|start|>ROLE
    return out


def _snapshot(p: StreamableParser) -> tuple:
    return (p.state.value, None if p.current_role is None else p.current_role.value, p.current_channel,
            p.current_recipient, p.current_content_type, p.current_content, p.last_content_delta,
            json.dumps(p.state_data), len(p.tokens))


def _stream_steps(enc, tokens, role, step=None) -> list:
    """Feed tokens one at a time, snapshotting after each; ``step`` is called between tokens."""
    parser = StreamableParser(enc, None if role is None else Role(role))
    out = []
    for t in tokens + [None]:
        if step is not None:
            step()
        try:
            parser.process_eos() if t is None else parser.process(t)
            out.append(_snapshot(parser))
        except HarmonyError as exc:
            out.append(("error", str(exc)))
    out.append([m.to_dict() for m in parser.messages])
    return out


def test_separate_stream_parsers_do_not_interfere(enc, busy_switching):
    completions = _completions(enc)
    assert len({tuple(t) for t, _ in completions}) == N_THREADS
    serial = [_stream_steps(enc, t, r) for t, r in completions]
    longest = max(len(t) for t, _ in completions) + 1
    lockstep = threading.Barrier(N_THREADS)

    def work(tokens, role):
        # Every thread takes one token per round, so the parsers' steps interleave token by token.
        done = [0]

        def step():
            done[0] += 1
            lockstep.wait()

        steps = _stream_steps(enc, tokens, role, step)
        for _ in range(longest - done[0]):
            lockstep.wait()
        return steps

    parallel = in_threads(work, completions)
    for i in range(N_THREADS):
        assert parallel[i] == serial[i], f"stream parser {i} differs from its serial run"


def test_stream_parsers_free_running(enc, busy_switching):
    """The same, without lock-step: each thread runs its own parsers as fast as it can, many times."""
    completions = _completions(enc)
    serial = [_stream_steps(enc, t, r) for t, r in completions]
    parallel = in_threads(lambda t, r: [_stream_steps(enc, t, r) for _ in range(5)], completions)
    for i in range(N_THREADS):
        assert all(run == serial[i] for run in parallel[i])


# -- loading ------------------------------------------------------------------------------------


def test_concurrent_loads_return_one_encoding(tmp_path, busy_switching):
    """Eight threads load encodings that are not cached yet (a fresh template folder makes new cache keys)."""
    folder = tmp_path / "templates"
    folder.mkdir()
    for dialect in ("oss-harmony", "openai-harmony"):
        found = in_threads(lambda: load_harmony_encoding("HarmonyGptOss", dialect=dialect, template_dir=folder),
                           [()] * N_THREADS)
        assert all(e is found[0] for e in found)
        assert load_harmony_encoding("HarmonyGptOss", dialect=dialect, template_dir=folder) is found[0]
    # The default encoding, already loaded: the same object from every thread.
    found = in_threads(lambda: load_harmony_encoding("HarmonyGptOss"), [()] * N_THREADS)
    assert all(e is found[0] for e in found) and found[0] is load_harmony_encoding("HarmonyGptOss")


def test_concurrent_first_load_of_the_tokenizer(tmp_path, monkeypatch):
    """The tokenizer itself, loaded for the first time by eight threads at once (a new vocabulary folder)."""
    from harmony_grammar.format import tokens as tokens_module

    vocab = tokens_module.tiktoken_file(tokens_module.bundled_vocabulary())
    (tmp_path / "o200k_base.tiktoken").write_bytes(vocab)
    default = load_harmony_encoding("HarmonyGptOss")
    monkeypatch.setenv(tokens_module.VOCAB_ENV_VAR, str(tmp_path))
    try:
        found = in_threads(lambda: load_harmony_encoding("HarmonyGptOss"), [()] * N_THREADS)
        assert all(e is found[0] for e in found)
        assert found[0] is not default and found[0].tokenizer is not default.tokenizer
        convo = Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")])
        assert found[0].render_conversation_for_completion(convo, Role.ASSISTANT) == \
            [200006, 1428, 200008, 12194, 200007, 200006, 173781]
    finally:
        # Forget the extra tokenizer and its encodings: they hold a second copy of the vocabulary.
        key = ("HarmonyGptOss", str(tmp_path))
        extra = tokens_module._cache.pop(key, None)
        if extra is not None:
            from harmony_grammar.engine import encoding as encoding_module
            from harmony_grammar.format import grammar as grammar_module

            for k in [k for k in encoding_module._encodings if k[1] == id(extra)]:
                del encoding_module._encodings[k]
            grammar_module._grammars.pop(id(extra), None)
