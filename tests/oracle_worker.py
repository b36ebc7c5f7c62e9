"""Runs differential-test cases against an ``openai_harmony``-compatible module.

The same code drives the reference (``python oracle_worker.py openai_harmony < cases.json``
in the reference's virtual environment) and harmony_grammar (imported in-process
by the tests), so both sides make exactly the same API calls.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _err(exc: BaseException) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc)[:300]}


def _stream(h: Any, enc: Any, tokens: list[int], role: Any, strict: bool) -> dict[str, Any]:
    """Feed tokens one at a time; snapshot every public property after each step."""
    try:
        parser = h.StreamableParser(enc, role, strict=strict)
    except Exception as exc:  # noqa: BLE001 - the error itself is the result
        return {"init_error": _err(exc)}
    steps = []
    seen = 0
    for tok in tokens + [None]:
        try:
            if tok is None:
                parser.process_eos()
            else:
                parser.process(tok)
        except Exception as exc:  # noqa: BLE001
            steps.append(_err(exc))
            break
        msgs = parser.messages
        snap = {
            "role": None if parser.current_role is None else parser.current_role.value,
            "channel": parser.current_channel,
            "recipient": parser.current_recipient,
            "content_type": parser.current_content_type,
            "content": parser.current_content,
            "delta": parser.last_content_delta,
            "state": parser.state.value,
            "state_data": parser.state_data,
            "n_tokens": len(parser.tokens),
        }
        if len(msgs) != seen:
            snap["new_messages"] = [m.to_dict() for m in msgs[seen:]]
            seen = len(msgs)
        steps.append(snap)
    return {"steps": steps, "tokens": parser.tokens}


def run_case(h: Any, enc: Any, case: dict[str, Any]) -> Any:
    """Run one case; the result is plain JSON data (tokens, messages or an error)."""
    op = case["op"]
    try:
        if op == "render_conversation":
            convo = h.Conversation.from_json(json.dumps(case["conversation"]))
            drop = case.get("auto_drop_analysis")
            config = None if drop is None else h.RenderConversationConfig(auto_drop_analysis=drop)
            if case["mode"] == "completion":
                return {"ok": enc.render_conversation_for_completion(convo, h.Role(case["next_role"]), config)}
            if case["mode"] == "training":
                return {"ok": enc.render_conversation_for_training(convo, config)}
            return {"ok": enc.render_conversation(convo, config)}
        if op == "render":
            msg = h.Message.from_dict(case["message"])
            opt = case.get("options")
            options = None if opt is None else h.RenderOptions(conversation_has_function_tools=opt)
            return {"ok": enc.render(msg, options)}
        if op == "parse":
            role = None if case.get("role") is None else h.Role(case["role"])
            msgs = enc.parse_messages_from_completion_tokens(case["tokens"], role, strict=case.get("strict", True))
            return {"ok": [m.to_dict() for m in msgs]}
        if op == "stream":
            role = None if case.get("role") is None else h.Role(case["role"])
            return _stream(h, enc, case["tokens"], role, case.get("strict", True))
        if op == "encode":
            return {"ok": enc.encode(case["text"], allowed_special=case.get("allowed", set()) if case.get("allowed") != "all" else "all",
                                     disallowed_special=case.get("disallowed", "all"))}
        if op == "decode":
            return {"ok": enc.decode(case["tokens"])}
        if op == "decode_utf8":
            return {"ok": enc.decode_utf8(case["tokens"])}
        if op == "tokens_info":
            return {"ok": {
                "stop": sorted(enc.stop_tokens()),
                "stop_actions": sorted(enc.stop_tokens_for_assistant_actions()),
                "special": sorted(enc.special_tokens_set),
                "is_special": [i for i in case["ids"] if enc.is_special_token(i)],
            }}
        raise ValueError(f"unknown op {op}")
    except Exception as exc:  # noqa: BLE001 - the error itself is the result
        return _err(exc)


def _jsonable(value: Any) -> Any:
    """Make enum members plain values (Message.to_dict keeps Role members)."""
    return json.loads(json.dumps(value, default=lambda o: getattr(o, "value", str(o))))


def run_all(module_name: str, cases: list[dict[str, Any]], dialect: str | None = None) -> list[Any]:
    """Run every case; ``dialect`` (harmony_grammar only) picks the reference to imitate."""
    h = __import__(module_name)
    if dialect is None:
        enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    else:
        enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS, dialect=dialect)
    return [_jsonable(run_case(h, enc, case)) for case in cases]


def main() -> None:
    module_name = sys.argv[1]
    cases = json.load(sys.stdin)
    json.dump(run_all(module_name, cases), sys.stdout)


if __name__ == "__main__":
    main()
