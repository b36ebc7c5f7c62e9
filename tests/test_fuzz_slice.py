"""A 5,000-case slice of the parser fuzzer (tests/fuzz/fuzz.py), and checks that its detectors detect.

The full run is ``python tests/fuzz/fuzz.py --cases 100000 --seed 1``; see SECURITY.md.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import pytest

from harmony_grammar import HarmonyError

_PATH = Path(__file__).resolve().parent / "fuzz" / "fuzz.py"
_spec = importlib.util.spec_from_file_location("harmony_fuzz", _PATH)
assert _spec is not None and _spec.loader is not None
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def test_fuzz_slice_finds_no_problems():
    summary = fuzz.run(5000, seed=20240601)
    shown = json.dumps(summary.get("examples", {}), indent=1)[:6000]
    assert summary["problems"] == {"escaped": 0, "disagree": 0, "slow": 0, "lost": 0, "deltas": 0,
                                   "touched": 0}, shown
    assert summary["recovery_runs"] == 5000
    # Both outcomes are well represented, so both paths were exercised.
    assert summary["outcomes"]["both_ok"] > 2000 and summary["outcomes"]["both_error"] > 2000


def test_cases_are_reproducible():
    assert fuzz.make_cases(50, seed=3) == fuzz.make_cases(50, seed=3)
    assert fuzz.make_cases(50, seed=3) != fuzz.make_cases(50, seed=4)


def test_cases_cover_hostile_ids():
    ids = [t for tokens, _ in fuzz.make_cases(2000, seed=1) for t in tokens]
    assert any(t < 0 for t in ids) and any(t >= 2**32 for t in ids) and any(t > 2**64 for t in ids)
    assert any(201088 < t < 2**32 for t in ids) and sum(200002 <= t <= 200012 for t in ids) > 0.2 * len(ids)


# -- the detectors, on a stand-in streaming parser -------------------------------------------------


class _Stream:
    """Stands in for StreamableParser; ``behaviour`` says what goes wrong."""

    behaviour = "ok"

    def __init__(self, enc, role, *, strict=True):
        self._real = fuzz.__dict__["_RealStreamableParser"](enc, role, strict=strict)

    def process(self, token):
        if self.behaviour == "escape":
            raise KeyError(token)
        if self.behaviour == "hang":
            while True:
                time.sleep(0.01)
        self._real.process(token)
        return self

    def process_eos(self):
        self._real.process_eos()
        return self

    @property
    def messages(self):
        return [] if self.behaviour == "disagree" else self._real.messages


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setitem(fuzz.__dict__, "_RealStreamableParser", fuzz.StreamableParser)
    monkeypatch.setattr(fuzz, "StreamableParser", _Stream)
    monkeypatch.setattr(_Stream, "behaviour", "ok")
    return _Stream


GOOD = [200006, 1428, 200008, 12194, 200007]  # <|start|>user<|message|>Hi<|end|>


def test_detects_escaped_exceptions(enc, stand_in):
    stand_in.behaviour = "escape"
    problems, _ = fuzz.check_case(enc, GOOD, None, True)
    assert [p["problem"] for p in problems] == ["escaped"] and "KeyError" in problems[0]["error"]


def test_detects_disagreements(enc, stand_in):
    stand_in.behaviour = "disagree"
    problems, _ = fuzz.check_case(enc, GOOD, None, True)
    assert [p["problem"] for p in problems] == ["disagree"]
    assert problems[0]["stream"] == [] and problems[0]["batch"][0]["content"][0]["text"] == "Hi"


def test_agreeing_errors_are_not_problems(enc):
    problems, info = fuzz.check_case(enc, [200007], None, True)
    assert problems == [] and info["batch"] == info["stream"] == "harmony"


def test_detects_slow_cases(enc):
    problems, _ = fuzz.check_case(enc, GOOD, None, True, slow=0.0)
    assert {p["problem"] for p in problems} == {"slow"}


@pytest.mark.skipif(not hasattr(fuzz.signal, "setitimer") or threading.current_thread() is not threading.main_thread(),
                    reason="hang detection needs SIGALRM in the main thread")
def test_detects_hangs(enc, stand_in):
    stand_in.behaviour = "hang"
    with fuzz._Alarm(0.2) as alarm:
        alarm.arm()
        try:
            problems, _ = fuzz.check_case(enc, GOOD, None, True)
        finally:
            alarm.disarm()
    assert [p["problem"] for p in problems] == ["slow"] and problems[0]["hang"]
    assert not isinstance(fuzz.Hang(), HarmonyError)


def test_recovery_checks_detect_lost_tokens_and_touched_input(enc, monkeypatch):
    good = [200006, 1428, 200008, 12194, 200007]
    assert fuzz.check_recovery(enc, good, None) == []
    real = enc.recover_messages_from_completion_tokens

    def losing(tokens, role=None):
        found = real(tokens, role)
        found.spans[0] = (found.spans[0][0], found.spans[0][1] - 1)
        return found

    monkeypatch.setattr(enc, "recover_messages_from_completion_tokens", losing)
    kinds = [p["problem"] for p in fuzz.check_recovery(enc, good, None)]
    assert kinds == ["lost", "disagree"]


def test_recovery_checks_detect_a_raising_recovery(enc, monkeypatch):
    def raising(tokens, role=None):
        raise HarmonyError("boom")

    monkeypatch.setattr(enc, "recover_messages_from_completion_tokens", raising)
    problems = fuzz.check_recovery(enc, [200007], None)
    assert [(p["problem"], p["in"]) for p in problems] == [("escaped", "recover batch")]
