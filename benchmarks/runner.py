"""Times one figure in this process and prints JSON: ``python runner.py MODULE FIGURE``.

MODULE is ``harmony_grammar`` or ``openai_harmony``; the caller picks the interpreter.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _median_time(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    module, figure = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    t0 = time.perf_counter()
    h = __import__(module)
    enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    cold = time.perf_counter() - t0
    import workloads

    result: dict = {}
    if figure == "a":
        result = {"value": cold, "unit": "s"}
    elif figure == "a2":
        convo = workloads.conversation(h, turns=3 if quick else 20)
        tokens = enc.render_conversation_for_completion(convo, h.Role.ASSISTANT)
        result = {"value": time.perf_counter() - t0, "unit": "s", "tokens": len(tokens)}
    elif figure == "a3":
        # The reference has no validator: its closest work is reading the transcript's text as
        # tokens and parsing them. compare.py times the whole process from outside.
        text = Path(sys.argv[3]).read_text(encoding="utf-8").removesuffix("\n")  # the file ends in a newline
        messages = enc.parse_messages_from_completion_tokens(enc.encode(text, allowed_special="all"), None)
        result = {"value": time.perf_counter() - t0, "unit": "s", "messages": len(messages)}
    elif figure in ("b", "c"):
        convo = workloads.conversation(h, turns=3 if quick else 20)
        tokens = enc.render_conversation_for_completion(convo, h.Role.ASSISTANT)
        if figure == "b":
            value = _median_time(lambda: enc.render_conversation_for_completion(convo, h.Role.ASSISTANT), 5 if quick else 40)
        else:
            import random
            rng = random.Random(9)
            messages = list(convo.messages)
            samples = []
            for i in range(3 if quick else 30):
                messages = messages + workloads.turn(h, rng, i)
                grown = h.Conversation.from_messages(messages)
                t = time.perf_counter()
                enc.render_conversation_for_completion(grown, h.Role.ASSISTANT)
                samples.append(time.perf_counter() - t)
            import statistics as st
            value = st.median(samples)
        result = {"value": value, "unit": "s", "tokens": len(tokens)}
    elif figure in ("d", "e"):
        text = workloads.completion_text(rounds=2 if quick else 10)
        tokens = enc.encode(text, allowed_special="all")
        if figure == "d":
            value = _median_time(lambda: enc.parse_messages_from_completion_tokens(tokens, None), 5 if quick else 40)
            result = {"value": value, "unit": "s", "tokens": len(tokens)}
        else:
            def stream():
                p = h.StreamableParser(enc, None)
                for tok in tokens:
                    p.process(tok)
            value = _median_time(stream, 3 if quick else 10) / len(tokens)
            result = {"value": value, "unit": "s/token", "tokens": len(tokens)}
    elif figure in ("f64", "f256"):
        size = (1 if quick else 64 if figure == "f64" else 256) * 1024
        msg = h.Message.from_role_and_content(h.Role.USER, "!" * size)
        value = _median_time(lambda: enc.render(msg), 1 if quick else 3, warmup=1)
        result = {"value": value, "unit": "s", "chars": size}
    elif figure == "g":
        convos = workloads.training_set(h, n=20 if quick else 1000)
        enc.render_conversation_for_training(convos[0])  # steady state: what loads on first use is loaded
        t = time.perf_counter()
        for c in convos:
            enc.render_conversation_for_training(c)
        elapsed = time.perf_counter() - t
        result = {"value": len(convos) / elapsed, "unit": "conv/s"}
    elif figure in ("h1", "h2"):
        import tempfile

        convos = workloads.training_set(h, n=40 if quick else 2000, seed=3)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "train.jsonl"
            source.write_text("".join(c.to_json() + "\n" for c in convos), encoding="utf-8")
            t = time.perf_counter()
            if module == "harmony_grammar":
                from harmony_grammar.integrations.dataset_files import DatasetJob, run_job

                job = DatasetJob(source=str(source), target=str(Path(tmp) / "out.jsonl"), shape="harmony",
                                 workers=1 if figure == "h1" else 2)
                summary = run_job(job, sys.stderr, progress=False)
                assert summary.written == len(convos)
            else:  # the reference has no dataset tool: parse each line and render it, in this process
                with open(source, encoding="utf-8") as lines:
                    for line in lines:
                        enc.render_conversation_for_training(h.Conversation.from_json(line))
            elapsed = time.perf_counter() - t
        result = {"value": len(convos) / elapsed, "unit": "conv/s"}
    else:
        raise SystemExit(f"unknown figure {figure}")
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
