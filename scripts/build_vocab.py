"""Build the bundled vocabulary, ``harmony_grammar/vocab/o200k_base.ranks``, from tiktoken's ``o200k_base.tiktoken``.

    python scripts/build_vocab.py PATH/TO/o200k_base.tiktoken

The input must have the published sha256 recorded in ``grammar/tokens.json``
(``vocabulary.sha256``). The output holds the raw token bytes in rank order,
separated by one byte that no other token contains; the one-byte token that
is the separator itself is written as an empty field. Loading it is one
``bytes.split``: no base64, no per-token work. The script prints the separator
and the output's sha256, which go in ``grammar/tokens.json`` under ``bundled``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("source", type=Path, help="tiktoken's o200k_base.tiktoken")
    args.add_argument("-o", "--output", type=Path, default=ROOT / "harmony_grammar" / "vocab" / "o200k_base.ranks")
    opts = args.parse_args(argv)
    table = json.loads((ROOT / "grammar" / "tokens.json").read_text(encoding="utf-8"))
    data = opts.source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != table["vocabulary"]["sha256"]:
        print(f"{opts.source}: sha256 {digest}, expected {table['vocabulary']['sha256']}", file=sys.stderr)
        return 1
    pieces = []
    for rank, line in enumerate(data.splitlines()):
        token, _, number = line.partition(b" ")
        if int(number) != rank:
            print(f"{opts.source}: line {rank + 1} has rank {int(number)}, expected {rank}", file=sys.stderr)
            return 1
        pieces.append(base64.b64decode(token))
    in_longer = set().union(*(set(p) for p in pieces if len(p) > 1))
    free = [b for b in range(256) if b not in in_longer]
    if not free:
        print(f"{opts.source}: every byte occurs in some longer token; no separator", file=sys.stderr)
        return 1
    separator = bytes([free[0]])
    out = separator.join(b"" if p == separator else p for p in pieces)
    opts.output.write_bytes(out)
    print(f"{opts.output}: {len(pieces)} ranks, {len(out)} bytes, separator {free[0]}, "
          f"sha256 {hashlib.sha256(out).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
