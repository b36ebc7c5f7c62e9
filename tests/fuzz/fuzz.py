#!/usr/bin/env python
"""Fuzzing the parsers: batch parsing (strict and tolerant) and StreamableParser on hostile token ids.

    python tests/fuzz/fuzz.py --cases 100000 --seed 1
    python tests/fuzz/fuzz.py --size

Every case is a list of token ids and a role (None: the tokens start with
<|start|>), from tests/generators.py (well-formed completions, mutated ones,
random ids biased towards structure) or purely random integers, huge and
negative ones included. Each case runs through
``parse_messages_from_completion_tokens`` and through a ``StreamableParser``
fed one token at a time (then ``process_eos``), in strict and in tolerant mode.
A problem is any of:

- ``escaped``: an exception other than ``HarmonyError`` (or a subclass), or
  any exception at all from the lenient ``ChatStreamAdapter``, which also runs
  on every strict case and must never raise;
- ``disagree``: the batch and the streaming parser differ (different messages,
  or one raises ``HarmonyError`` and the other does not);
- ``slow``: one parse or one stream took longer than ``--slow`` seconds (1 s);
  a call that runs past ``--hang`` seconds (10 s) is interrupted and counted.

The first few offending cases are printed as JSON; the exit status is 1 if
there is any problem. ``--size`` instead renders and parses a 10 MB message and
streams 1,000,000 tokens, printing time and peak RSS, and checks that time
grows linearly (1 MB vs 10 MB: at most 15x) and that the streaming parser's
memory stays bounded: it keeps the messages and tokens, but nothing else may
grow from one message to the next (its per-message buffers, and the grammar
state, counted in parse-tree nodes). Each phase runs in its own process so
that its peak RSS is its own.

``run(cases, seed)`` is the core; tests/test_fuzz_slice.py calls it on a slice.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
for _p in (str(TESTS), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import generators  # noqa: E402  (tests/generators.py)

from harmony_grammar import (  # noqa: E402
    ChatStreamAdapter, HarmonyError, HarmonyWarning, Role, StreamableParser, load_harmony_encoding)
from harmony_grammar.engine.recover import strict_reading_stands  # noqa: E402

# The recovery checks use the real parser even where a test stands in for StreamableParser.
RecoveringStreamableParser = StreamableParser
STRUCTURE_TEXTS = ("<|start|>", "<|end|>", "<|call|>", "<|return|>")

ROLES = [None, None, "assistant", "user", "tool", "system", "developer"]

# Integers chosen to sit on every boundary the parsers check.
EDGE_IDS = [
    -(2**70), -(2**32), -(2**31), -2, -1, 0, 1, 255, 199997, 199998, 199999, 200000, 200001,
    200013, 201087, 201088, 201089, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1, 2**32, 2**32 + 200006,
    2**63, 2**64, 2**64 + 200007, 10**30,
]


class Hang(Exception):
    """Raised by the alarm when one call runs past the hang limit (never a HarmonyError)."""


def random_ints(rng: random.Random) -> list[int]:
    """Pure random integers: structure, specials, bytes, ordinary ids, edges and huge or negative values."""
    out = []
    for _ in range(rng.randint(0, rng.choice([8, 30, 120]))):
        r = rng.random()
        if r < 0.30:
            out.append(rng.choice(generators.STRUCTURE))
        elif r < 0.40:
            out.append(rng.randint(199998, 201088))
        elif r < 0.55:
            out.append(rng.randint(0, 255))
        elif r < 0.75:
            out.append(rng.randint(0, 199997))
        elif r < 0.85:
            out.append(rng.choice(EDGE_IDS))
        elif r < 0.93:
            out.append(rng.randint(-(2**40), 2**40))
        else:
            out.append(rng.randint(-(2**130), 2**130))
    if rng.random() < 0.5:
        out.insert(0, 200006)
    return out


def make_cases(n: int, seed: int) -> list[tuple[list[int], Optional[str]]]:
    """``n`` (tokens, role) cases, the same for the same seed."""
    enc = load_harmony_encoding("HarmonyGptOss")
    encode = lambda s: enc.encode(s, allowed_special="all")  # noqa: E731
    ordinary = enc.tokenizer.encode_ordinary
    rng = random.Random(seed)
    cases: list[tuple[list[int], Optional[str]]] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            tokens, role = generators.parse_case_tokens(rng, encode, ordinary)
        elif r < 0.75:
            # several mutation rounds on a longer well-formed completion
            with_role = rng.random() < 0.4
            tokens = generators.completion_tokens(rng, not with_role, encode, ordinary)
            for _ in range(rng.randint(1, 4)):
                tokens = generators.mutate(rng, tokens)
            role = rng.choice(ROLES[2:]) if with_role else None
        elif r < 0.85:
            tokens, role = generators.random_tokens(rng), rng.choice(ROLES)
        else:
            tokens, role = random_ints(rng), rng.choice(ROLES)
        cases.append((tokens, role))
    return cases


def _outcome(call: Callable[[], Any]) -> tuple[str, Any, float]:
    """('ok', value) | ('harmony', message) | ('escaped', traceback) | ('hang', '') and the seconds taken."""
    start = time.perf_counter()
    try:
        value = call()
        kind, detail = "ok", value
    except HarmonyError as exc:
        kind, detail = "harmony", f"{type(exc).__name__}: {exc}"
    except Hang:
        kind, detail = "hang", ""
    except Exception as exc:  # noqa: BLE001 - any other exception is what we are looking for
        kind, detail = "escaped", "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return kind, detail, time.perf_counter() - start


def _dicts(messages: list) -> list[dict]:
    return [m.to_dict() for m in messages]


def check_case(enc: Any, tokens: list[int], role: Optional[str], strict: bool,
               slow: float = 1.0) -> tuple[list[dict], dict]:
    """Run one case both ways; the problems found and the outcome kinds."""
    role_ = None if role is None else Role(role)

    def batch() -> list[dict]:
        return _dicts(enc.parse_messages_from_completion_tokens(tokens, role_, strict=strict))

    def stream() -> list[dict]:
        parser = StreamableParser(enc, role_, strict=strict)
        for token in tokens:
            parser.process(token)
        parser.process_eos()
        return _dicts(parser.messages)

    def chat() -> dict:
        adapter = ChatStreamAdapter(enc, role_, lenient=True, call_id_seed="fuzz")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HarmonyWarning)
            for token in tokens:
                adapter.process(token)
            adapter.process_eos()
        return adapter.message()

    b = _outcome(batch)
    s = _outcome(stream)
    where = {"tokens": tokens, "role": role, "strict": strict}
    problems = []
    if strict:
        kind, detail, _ = _outcome(chat)
        if kind not in ("ok", "hang"):
            problems.append({"problem": "escaped", "in": "lenient chat", "error": detail, **where})
    for name, (kind, detail, seconds) in (("batch", b), ("stream", s)):
        if kind == "escaped":
            problems.append({"problem": "escaped", "in": name, "error": detail, **where})
        elif kind == "hang":
            problems.append({"problem": "slow", "in": name, "seconds": round(seconds, 3), "hang": True, **where})
        elif seconds > slow:
            problems.append({"problem": "slow", "in": name, "seconds": round(seconds, 3), **where})
    if b[0] in ("ok", "harmony") and s[0] in ("ok", "harmony"):
        if b[0] != s[0] or (b[0] == "ok" and b[1] != s[1]):
            problems.append({"problem": "disagree", **where,
                             "batch": b[1] if b[0] == "ok" else {"error": b[1]},
                             "stream": s[1] if s[0] == "ok" else {"error": s[1]}})
    info = {"batch": b[0], "stream": s[0], "same_error": b[0] == s[0] == "harmony" and b[1] == s[1],
            "seconds": max(b[2], s[2])}
    return problems, info


def _tiles(spans: list[tuple[int, int]], n: int) -> bool:
    pos = 0
    for start, end in sorted(spans):
        if start != pos or end <= start:
            return False
        pos = end
    return pos == n


def check_recovery(enc: Any, tokens: list[int], role: Optional[str], slow: float = 1.0) -> list[dict]:
    """Recovery's invariants on one case: it never raises, loses no token, batch equals stream,
    the deltas add up to each message's content, and input the strict parser accepts is untouched."""
    role_ = None if role is None else Role(role)
    where = {"tokens": tokens, "role": role}
    problems: list[dict] = []

    def stream() -> tuple[Any, list[str]]:
        parser = RecoveringStreamableParser(enc, role_, recover=True)
        built: list[str] = []
        current: list[str] = []
        for token in tokens + [None]:
            if token is None:
                parser.process_eos()
            else:
                parser.process(token)
            if parser.last_content_delta:
                current.append(parser.last_content_delta)
            while len(built) < parser.message_count:
                built.append("".join(current))
                current = []
        return parser.recovery(), built

    b = _outcome(lambda: enc.recover_messages_from_completion_tokens(tokens, role_))
    s = _outcome(stream)
    for name, (kind, detail, seconds) in (("recover batch", b), ("recover stream", s)):
        if kind in ("escaped", "harmony"):
            problems.append({"problem": "escaped", "in": name, "error": detail, **where})
        elif kind == "hang" or seconds > slow:
            problems.append({"problem": "slow", "in": name, "seconds": round(seconds, 3), **where})
    if b[0] != "ok" or s[0] != "ok":
        return problems
    batch, (streamed, built) = b[1], s[1]
    if not _tiles(batch.spans + batch.dropped(), len(tokens)):
        problems.append({"problem": "lost", "spans": batch.spans, "dropped": batch.dropped(), **where})
    if (batch.messages, batch.spans, batch.diagnostics) != (streamed.messages, streamed.spans, streamed.diagnostics):
        problems.append({"problem": "disagree", "in": "recovery", **where,
                         "batch": _dicts(batch.messages), "stream": _dicts(streamed.messages)})
    if built[:len(streamed.messages)] != [m.content[0].text for m in streamed.messages]:
        problems.append({"problem": "deltas", "built": built, "content": _dicts(streamed.messages), **where})
    strict = _outcome(lambda: enc.parse_messages_from_completion_tokens(tokens, role_))
    if strict[0] == "ok" and strict_reading_stands(strict[1], STRUCTURE_TEXTS, "<|constrain|>"):
        if batch.messages != strict[1] or batch.diagnostics:
            problems.append({"problem": "touched", "strict": _dicts(strict[1]), "recovered": _dicts(batch.messages),
                             "codes": [d.code for d in batch.diagnostics], **where})
    return problems


class _Alarm:
    """SIGALRM after ``seconds`` raises Hang in the main thread (POSIX, main thread only; else a no-op)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.enabled = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "_Alarm":
        if self.enabled:
            def fire(signum: int, frame: Any) -> None:
                raise Hang()
            self._old = signal.signal(signal.SIGALRM, fire)
        return self

    def arm(self) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


def run(cases: int, seed: int, *, slow: float = 1.0, hang: float = 10.0, keep: int = 5,
        progress: Optional[Callable[[int], None]] = None) -> dict:
    """Fuzz ``cases`` generated cases (each in strict and tolerant mode); a summary with the problems found.

    The summary's ``problems`` counts escaped / disagree / slow; ``examples`` holds the
    first ``keep`` offending cases of each kind.
    """
    enc = load_harmony_encoding("HarmonyGptOss")
    started = time.perf_counter()
    generated = make_cases(cases, seed)
    counts = {"escaped": 0, "disagree": 0, "slow": 0, "lost": 0, "deltas": 0, "touched": 0}
    examples: dict[str, list[dict]] = {k: [] for k in counts}
    outcomes = {"both_ok": 0, "both_error": 0, "same_error_text": 0}
    longest = 0.0
    n_tokens = 0
    recovered = 0
    with _Alarm(hang) as alarm:
        for i, (tokens, role) in enumerate(generated):
            n_tokens += len(tokens)
            for strict in (True, False):
                alarm.arm()
                try:
                    problems, info = check_case(enc, tokens, role, strict, slow)
                finally:
                    alarm.disarm()
                longest = max(longest, info["seconds"])
                if info["batch"] == info["stream"] == "ok":
                    outcomes["both_ok"] += 1
                elif info["batch"] == info["stream"] == "harmony":
                    outcomes["both_error"] += 1
                    outcomes["same_error_text"] += info["same_error"]
                for p in problems:
                    counts[p["problem"]] += 1
                    if len(examples[p["problem"]]) < keep:
                        examples[p["problem"]].append({"case": i, **p})
            alarm.arm()
            try:
                problems = check_recovery(enc, tokens, role, slow)
            finally:
                alarm.disarm()
            recovered += 1
            for p in problems:
                counts[p["problem"]] += 1
                if len(examples[p["problem"]]) < keep:
                    examples[p["problem"]].append({"case": i, **p})
            if progress is not None and (i + 1) % 10000 == 0:
                progress(i + 1)
    return {
        "seed": seed,
        "cases": cases,
        "runs": 2 * cases,
        "recovery_runs": recovered,
        "tokens": n_tokens,
        "outcomes": outcomes,
        "problems": counts,
        "slowest_seconds": round(longest, 4),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "examples": {k: v for k, v in examples.items() if v},
    }


# -- --size ----------------------------------------------------------------------------------


def _rss_now_kb() -> int:
    """Current resident set size in KiB (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return _peak_kb()


def _peak_kb() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _text(nbytes: int, seed: int = 7) -> str:
    """About ``nbytes`` of varied text (words, unicode, whitespace, special-token spellings)."""
    rng = random.Random(seed)
    chunks, size = [], 0
    while size < nbytes:
        piece = generators.text(rng, 40, allow_empty=False)
        chunks.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(chunks)


def _phase_render_parse(megabytes: int) -> dict:
    from harmony_grammar import Conversation, Message

    enc = load_harmony_encoding("HarmonyGptOss")
    text = _text(megabytes * 1_000_000)
    base = _rss_now_kb()
    msg = Message.from_role_and_content(Role.USER, text).with_channel("final")
    t0 = time.perf_counter()
    tokens = enc.render_conversation(Conversation.from_messages([msg]))
    t1 = time.perf_counter()
    parsed = enc.parse_messages_from_completion_tokens(tokens, None)
    t2 = time.perf_counter()
    ok = len(parsed) == 1 and parsed[0].content[0].text == text and parsed[0].channel == "final"
    return {"phase": f"render+parse {megabytes} MB", "bytes": len(text.encode("utf-8")), "tokens": len(tokens),
            "render_s": round(t1 - t0, 3), "parse_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3),
            "round_trip_exact": ok, "rss_base_mb": round(base / 1024, 1), "peak_rss_mb": round(_peak_kb() / 1024, 1)}


def _grammar_nodes(parser: Any) -> int:
    """Tree nodes and tokens held by the streaming parser's grammar state (lark's LALR value stack)."""
    from lark import Token, Tree

    count, todo = 0, list(parser._ip.parser_state.value_stack)
    while todo:
        item = todo.pop()
        if isinstance(item, Tree):
            count += 1
            todo.extend(item.children)
        elif isinstance(item, Token):
            count += 1
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return count


def _phase_stream(n_tokens: int) -> dict:
    """Stream ``n_tokens`` as many messages; record per-message buffers and RSS at checkpoints."""
    enc = load_harmony_encoding("HarmonyGptOss")
    rng = random.Random(3)
    ordinary = enc.tokenizer.encode_ordinary
    bodies = [ordinary(generators.text(rng, 60, allow_empty=False)) for _ in range(64)]
    heads = [enc.encode(h, allowed_special="all") for h in
             ("assistant<|channel|>analysis", "assistant<|channel|>final", "user",
              "assistant to=functions.f<|channel|>commentary <|constrain|>json")]
    stream: list[int] = []
    n_messages = 0
    while len(stream) < n_tokens:
        stream += [200006, *rng.choice(heads), 200008, *rng.choice(bodies), rng.choice([200007, 200012, 200002])]
        n_messages += 1
    stream = stream[:n_tokens]
    parser = StreamableParser(enc, None)
    base = _rss_now_kb()
    checkpoints = []
    max_header = max_content = 0
    leftovers = 0  # per-message buffers still holding data right after a message ended
    seen = 0
    step = n_tokens // 10
    t0 = time.perf_counter()
    for i, token in enumerate(stream, 1):
        parser.process(token)
        max_header = max(max_header, len(parser._header_tokens))
        if len(parser._messages) != seen:
            seen = len(parser._messages)
            if parser._decoder is not None or parser._content_tokens or parser._header is not None:
                leftovers += 1
        if parser._decoder is not None:
            max_content = max(max_content, len(parser._decoder.pieces))
        if i % step == 0:
            paused = time.perf_counter()
            nodes = _grammar_nodes(parser)
            t0 += time.perf_counter() - paused  # counting is not streaming time
            checkpoints.append({"tokens": i, "seconds": round(time.perf_counter() - t0, 3),
                                "rss_growth_mb": round((_rss_now_kb() - base) / 1024, 1),
                                "messages": len(parser._messages), "grammar_state_nodes": nodes})
    parser.process_eos()
    elapsed = time.perf_counter() - t0
    longest_message = max(len(b) for b in bodies)
    first_half = checkpoints[4]["rss_growth_mb"]
    second_half = checkpoints[-1]["rss_growth_mb"] - first_half
    return {"phase": f"stream {n_tokens} tokens", "messages": len(parser._messages),
            "seconds": round(elapsed, 3), "us_per_token": round(elapsed / n_tokens * 1e6, 2),
            "checkpoints": checkpoints,
            "max_header_buffer": max_header, "max_content_pieces": max_content,
            "longest_message_tokens": longest_message, "buffers_left_after_a_message": leftovers,
            "rss_growth_first_half_mb": first_half, "rss_growth_second_half_mb": round(second_half, 1),
            "rss_base_mb": round(base / 1024, 1), "peak_rss_mb": round(_peak_kb() / 1024, 1)}


def _run_phase(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--phase", *args],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"phase {args} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def size_check() -> int:
    """The --size mode: each phase in its own process; returns the exit status."""
    failures = []
    small = _run_phase(["render", "1"])
    print(json.dumps(small))
    large = _run_phase(["render", "10"])
    print(json.dumps(large))
    ratio = large["total_s"] / max(small["total_s"], 1e-6)
    print(json.dumps({"check": "render+parse time 10 MB / 1 MB", "ratio": round(ratio, 2), "limit": 15}))
    if not (small["round_trip_exact"] and large["round_trip_exact"]):
        failures.append("a large message did not round-trip exactly")
    if ratio > 15:
        failures.append(f"render+parse time grows faster than linearly (10 MB / 1 MB = {ratio:.1f}x)")
    stream = _run_phase(["stream", "1000000"])
    print(json.dumps(stream))
    if stream["buffers_left_after_a_message"]:
        failures.append("the streaming parser kept per-message buffers after a message ended")
    if stream["max_header_buffer"] > 64 or stream["max_content_pieces"] > stream["longest_message_tokens"]:
        failures.append("the streaming parser's per-message buffers outgrew one message")
    # Memory grows only with what the parser must keep (every token and every message): linearly.
    first, second = stream["rss_growth_first_half_mb"], stream["rss_growth_second_half_mb"]
    if second > 2 * first + 16:
        failures.append(f"streaming memory grows faster than linearly ({first} MB then {second} MB)")
    nodes = [c["grammar_state_nodes"] for c in stream["checkpoints"]]
    if nodes[-1] > 2 * nodes[0] + 64:
        per_message = (nodes[-1] - nodes[0]) / max(1, stream["checkpoints"][-1]["messages"]
                                                  - stream["checkpoints"][0]["messages"])
        failures.append(f"the streaming parser's grammar state grows with every message: {nodes[0]} nodes "
                        f"after {stream['checkpoints'][0]['messages']} messages, {nodes[-1]} after "
                        f"{stream['checkpoints'][-1]['messages']} (~{per_message:.1f} per message)")
    times = [c["seconds"] for c in stream["checkpoints"]]
    if times[-1] - times[4] > 2 * times[4] + 1:
        failures.append("streaming time grows faster than linearly")
    print(json.dumps({"size_check": "ok" if not failures else "FAILED", "failures": failures}))
    return 1 if failures else 0


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100_000, help="number of generated cases (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--slow", type=float, default=1.0, help="seconds after which a call counts as slow")
    ap.add_argument("--hang", type=float, default=10.0, help="seconds after which a call is interrupted")
    ap.add_argument("--examples", type=int, default=5, help="offending cases to print per kind")
    ap.add_argument("--size", action="store_true", help="run the size checks instead of fuzzing")
    ap.add_argument("--phase", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        kind, amount = args.phase[0], int(args.phase[1])
        print(json.dumps(_phase_render_parse(amount) if kind == "render" else _phase_stream(amount)))
        return 0
    if args.size:
        return size_check()
    summary = run(args.cases, args.seed, slow=args.slow, hang=args.hang, keep=args.examples,
                  progress=lambda n: print(f"... {n} cases", file=sys.stderr, flush=True))
    examples = summary.pop("examples")
    print(json.dumps(summary, indent=2))
    for kind, found in examples.items():
        print(f"first {len(found)} {kind} case(s):")
        for case in found:
            print(json.dumps(case))
    bad = sum(summary["problems"].values())
    print("FAIL" if bad else "OK", f"{bad} problem(s) in {summary['runs']} parser runs and {summary['recovery_runs']} recoveries")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
