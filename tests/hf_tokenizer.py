"""A transformers tokenizer for gpt-oss, built from the package's bundled vocabulary, without the network.

The build is what transformers' ``TikTokenConverter`` does for tiktoken vocabularies
(and what gpt-oss's own ``tokenizer.json`` holds): a byte-level BPE whose vocabulary is
the o200k ranks, whose merges are every split of a token into two tokens, ordered by
the rank of the token they make (tiktoken merges the adjacent pair whose join has the
lowest rank, so these are its merges), with ``ignore_merges`` (a pre-token that is a
token is taken whole, as tiktoken does); the pre-tokenizer splits at
``grammar/tokens.json``'s pattern, and every special token, named or reserved, is an
added token at its own id.

    >>> tok = gpt_oss_tokenizer()                                # doctest: +SKIP
    >>> tok("Hi<|end|>", add_special_tokens=False)["input_ids"]  # doctest: +SKIP
    [12194, 200007]

The built ``tokenizer.json`` (28 MB) is kept in the run's cache folder
(:func:`harmony_grammar.resources.cache_dir`, which tests/conftest.py points at a
folder of the run's own), keyed by everything it is built from, so one process per
run builds it and the others load it. :data:`TIMINGS` records what each step took.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

from harmony_grammar.format.tokens import TokenTable, bundled_vocabulary
from harmony_grammar.resources import cache_dir

if TYPE_CHECKING:
    import tokenizers
    from transformers import PreTrainedTokenizerFast

__all__ = ["gpt_oss_tokenizer", "build_tokenizer", "tokenizer_file", "byte_encoder", "TIMINGS", "SPECIAL_TOKENS_MAP"]

# Bump when the build changes, so cached files from an older build are not used.
BUILD_VERSION = 1

# What each step took, in seconds, in this process: "build" (merges and BPE), "save", "load".
TIMINGS: dict[str, float] = {}

# gpt-oss's tokenizer_config.json names these; transformers passes them to chat templates.
SPECIAL_TOKENS_MAP = {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"}


@lru_cache(maxsize=None)
def byte_encoder() -> tuple[str, ...]:
    """GPT-2's byte-level alphabet: the printable character standing for each byte 0..255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = dict(zip(printable, printable))
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + extra
            extra += 1
    return tuple(chr(chars[b]) for b in range(256))


def _merges(pieces: list[bytes]) -> list[tuple[int, int]]:
    """Every (left, right) pair of tokens whose join is a token, ordered by the join's rank, then by the parts'."""
    ranks = {piece: rank for rank, piece in enumerate(pieces)}
    get = ranks.get
    out: list[tuple[int, int]] = []
    for piece in pieces:
        if len(piece) < 2:
            continue
        local = []
        for i in range(1, len(piece)):
            left = get(piece[:i])
            if left is not None:
                right = get(piece[i:])
                if right is not None:
                    local.append((left, right))
        local.sort()
        out.extend(local)
    return out


def build_tokenizer(table: Optional[TokenTable] = None) -> "tokenizers.Tokenizer":
    """The gpt-oss tokenizer as a ``tokenizers.Tokenizer``, built from the bundled ranks."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE

    table = table or TokenTable.load()
    pieces = bundled_vocabulary(table)
    alphabet = byte_encoder()
    words = ["".join([alphabet[b] for b in piece]) for piece in pieces]
    vocab = dict(zip(words, range(len(words))))
    merges = [(words[left], words[right]) for left, right in _merges(pieces)]
    tokenizer = Tokenizer(BPE(vocab, merges, fuse_unk=False))
    tokenizer.model.ignore_merges = True  # a pre-token that is a token is one token, as in tiktoken
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(table.pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    # Added in id order after the ranks, the special tokens (which fill every id from the last rank up) get their ids.
    special = sorted(table.all_special().items(), key=lambda item: item[1])
    assert [tid for _, tid in special] == list(range(len(pieces), len(pieces) + len(special))), "special ids have gaps"
    tokenizer.add_special_tokens([AddedToken(text, special=True, normalized=False) for text, _ in special])
    wrong = [(text, tid, tokenizer.token_to_id(text)) for text, tid in special if tokenizer.token_to_id(text) != tid]
    assert not wrong, f"special tokens at the wrong ids: {wrong[:5]}"
    return tokenizer


def _cache_key(table: TokenTable) -> str:
    import tokenizers

    inputs = [BUILD_VERSION, table.bundled_sha256, table.pattern, sorted(table.all_special().items()),
              tokenizers.__version__]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` where the platform has ``fcntl`` (pytest-xdist workers build once)."""
    try:
        import fcntl
    except ImportError:  # Windows: two workers may both build; the rename keeps the file whole
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save(tokenizer: "tokenizers.Tokenizer", path: Path) -> None:
    """Write the tokenizer's JSON beside ``path`` and rename it into place, so a file that exists is whole."""
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".gpt-oss-", suffix=".tmp", delete=False) as out:
        tmp = out.name
    try:
        tokenizer.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    TIMINGS["save"] = time.perf_counter() - started


def tokenizer_file(folder: Optional[Path] = None) -> Path:
    """The built ``tokenizer.json`` in ``folder`` (default: the cache folder), built if it is not there yet.

    Raises ``RuntimeError`` when caching is off (``HARMONY_GRAMMAR_CACHE=""``) and no folder is given.
    """
    table = TokenTable.load()
    folder = folder if folder is not None else cache_dir("hf-tokenizer")
    if folder is None:
        raise RuntimeError("caching is off (HARMONY_GRAMMAR_CACHE is empty): pass a folder")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"gpt-oss-{_cache_key(table)}.json"
    with _locked(folder / ".lock"):
        if not path.exists():
            started = time.perf_counter()
            tokenizer = build_tokenizer(table)
            TIMINGS["build"] = time.perf_counter() - started
            _save(tokenizer, path)
    return path


@lru_cache(maxsize=None)
def gpt_oss_tokenizer() -> "PreTrainedTokenizerFast":
    """The gpt-oss tokenizer as a transformers ``PreTrainedTokenizerFast`` (built or loaded once per process)."""
    folder = cache_dir("hf-tokenizer")
    if folder is None:  # caching is off: build into a folder of this call's own
        with tempfile.TemporaryDirectory(prefix="hf-tokenizer-") as scratch:
            return _load(tokenizer_file(Path(scratch)))
    return _load(tokenizer_file(folder))


def _load(path: Path) -> "PreTrainedTokenizerFast":
    from transformers import PreTrainedTokenizerFast

    started = time.perf_counter()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), clean_up_tokenization_spaces=False,
                                        **SPECIAL_TOKENS_MAP)
    TIMINGS["load"] = time.perf_counter() - started
    return tokenizer
