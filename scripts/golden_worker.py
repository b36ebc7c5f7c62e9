"""Renders golden scenarios in a reference's interpreter (``python golden_worker.py openai_harmony < scenarios.json``).

scripts/make_golden.py runs this in each reference's virtual environment; it
reads a JSON list of scenarios (see golden_scenarios.json, each with its
``trailer`` already chosen for this reference) and writes one JSON list of
file texts, in the same order. The rendering and parsing go through
tests/oracle_worker.py, the differential tests' driver, so both make the same
API calls.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from oracle_worker import _jsonable, run_case  # noqa: E402


def _ok(name: str, result: Any) -> Any:
    if not isinstance(result, dict) or "ok" not in result:
        raise SystemExit(f"{name}: the reference failed: {result}")
    return result["ok"]


def _parsed(h: Any, enc: Any, name: str, scenario: dict[str, Any]) -> list[int]:
    """The tokens of a parser scenario's input, after checking the reference parses them as expected."""
    text = scenario["input"]
    tokens = enc.encode(text, allowed_special="all")
    if enc.decode_utf8(tokens) != text:
        raise SystemExit(f"{name}: the input does not survive the reference's encode and decode")
    case = {"op": scenario["mode"], "tokens": tokens, "role": scenario.get("role")}
    if scenario["mode"] == "stream":
        result = run_case(h, enc, case)
        if "steps" not in result:
            raise SystemExit(f"{name}: the reference failed: {result}")
        messages = [m for step in result["steps"] for m in step.get("new_messages", [])]
    else:
        messages = _ok(name, run_case(h, enc, case))
    expected = [h.Message.from_dict(m).to_dict() for m in scenario["messages"]]
    if _jsonable(messages) != _jsonable(expected):
        raise SystemExit(f"{name}: the reference parses the input as {_jsonable(messages)}, not as expected")
    return tokens


def render(h: Any, enc: Any, scenario: dict[str, Any]) -> str:
    """The golden file's text for one scenario."""
    name, mode = scenario["name"], scenario["mode"]
    if mode in ("completion", "conversation"):
        case = {"op": "render_conversation", "mode": mode, "conversation": scenario["conversation"],
                "next_role": scenario.get("next_role"), "auto_drop_analysis": scenario.get("auto_drop_analysis")}
        tokens = _ok(name, run_case(h, enc, case))
    elif mode == "message":
        tokens = _ok(name, run_case(h, enc, {"op": "render", "message": scenario["message"]}))
        if scenario.get("drop_last_token"):
            tokens = tokens[:-1]
    elif mode in ("parse", "stream"):
        tokens = _parsed(h, enc, name, scenario)
    else:
        raise SystemExit(f"{name}: unknown mode {mode!r}")
    if scenario.get("output") == "ids":
        body = "\n".join(" ".join(str(t) for t in tokens[i:i + 10]) for i in range(0, len(tokens), 10))
    else:
        body = enc.decode_utf8(tokens)
    return body + scenario.get("trailer", "")


def main() -> None:
    h = __import__(sys.argv[1])
    enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    json.dump([render(h, enc, s) for s in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
