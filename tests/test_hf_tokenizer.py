"""tests/hf_tokenizer.py: the transformers tokenizer built from the bundled ranks gives exactly ``enc``'s ids.

Text with special-token spellings is compared with ``enc.encode(text, allowed_special="all")``
(transformers always reads added tokens in text), plain text also with ``encode_ordinary``;
decoding gives the text back. The corpus: fixed tricky texts, a seeded random one, and
every token's bytes.
"""

from __future__ import annotations

import random

import pytest

import generators
from hf_tokenizer import SPECIAL_TOKENS_MAP, byte_encoder, gpt_oss_tokenizer, tokenizer_file
from optional import need
from harmony_grammar.resources import cache_dir

FIXED = [
    "", " ", "Hello, world!", "hello world", "  leading", "trailing  ", "a  b   c    d",
    "\n", "\n\n\n", "\r\n", "a\r\nb\r\n\r\nc", " \n \n", "\t\ttabs\t", "x \n\ny", "\u00a0nbsp\u3000ideographic",
    "1", "12", "123", "1234", "1234567", "3.14159", "2025-06-28", "1,000,000", "x1y22z333",
    "I'm", "we'll", "DON'T", "You'RE", "it's", "they've", "I'd", "O'Neil's", "’s curly", "'s", "'", "''",
    "é", "e\u0301", "ß", "日本語のテキスト", "中文", "한국어", "עברית", "العربية", "हिन्दी", "Ω≈ç√∫",
    "🙂", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "\u200b", "\ufeffbom", "ﬁ", "𝔘𝔫𝔦", "〜", "【6†L9】", "\x00\x01\x7f",
    "def f(x):\n    return {'a': [1, 2]}  # comment\n",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] * 2; }",
    '{"city":"Paris","temp":21,"nested":{"list":[1,2.5,null,true]}}',
    "<html><body class=\"x\">&amp;</body></html>", "https://example.com/path?q=1&r=2#frag", "C:\\Users\\x",
    "{{ x }}", "{% if x %}y{% endif %}", "{#- c -#}", "$$\\frac{a}{b}$$", "`code` **bold** _it_",
    "<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|call|>", "<|return|>",
    "<|startoftext|>", "<|endoftext|>", "<|reserved_200000|>", "<|reserved_200013|>", "<|reserved_201088|>",
    "<|start|>user<|message|>Hi<|end|><|start|>assistant",
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}<|call|>",
    "<|end|><|end|>", "x<|end|>y", " <|end|> ", "<|<|end|>|>", "<|end", "end|>", "<||>", "<|", "|>",
    "<|reserved_201089|>", "<|reserved_199999|>", "<|END|>", "< |end|>",
]

SPACES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\x0b", "\x0c", "\x85"]


def random_corpus(seed: int = 20250628, n: int = 1500) -> list[str]:
    """Seeded texts: tests/generators.py's, any code points, whitespace runs, digits and contractions mixed."""
    rng = random.Random(seed)
    out = [generators.text(rng, 30) for _ in range(n)]
    for _ in range(n // 3):
        out.append("".join(chr(c) for c in (rng.randint(0, 0x10FFFF) for _ in range(rng.randint(1, 12)))
                           if not 0xD800 <= c < 0xE000))
    for _ in range(n // 3):
        parts = [rng.choice(SPACES) * rng.randint(1, 5), str(rng.randint(0, 10**9)), rng.choice(["'s", "'T", "'ll"]),
                 rng.choice(["word", "Word", "WORD", "é", "日本", "🙂"]), rng.choice(generators.PUNCT)]
        out.append("".join(rng.choice(parts) for _ in range(rng.randint(1, 10))))
    return out


@pytest.fixture(scope="module")
def tok():
    need("transformers", "hf")
    return gpt_oss_tokenizer()


def ids_of(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def test_every_token_has_enc_bytes_at_its_id(enc, tok):
    """The vocabulary: each of the 201,089 ids stands for the bytes ``enc`` gives it (special tokens for their text)."""
    decode_byte = {ch: b for b, ch in enumerate(byte_encoder())}
    vocab = tok.get_vocab()
    assert len(vocab) == len(tok) == enc.tokenizer.n_vocab == 201089
    special = enc.tokenizer.special_by_id
    wrong = []
    for text, tid in vocab.items():
        got = text.encode() if tid in special else bytes(decode_byte[ch] for ch in text)
        if got != enc.tokenizer.token_bytes[tid]:
            wrong.append((tid, text))
    assert not wrong, wrong[:5]
    assert {tok.convert_ids_to_tokens(tid) for tid in special} == set(enc.tokenizer.special_tokens)
    assert set(tok.all_special_ids) >= {199998, 199999, 200002}


def test_special_tokens_map(tok):
    """gpt-oss's names for its bos, eos and pad tokens, which transformers passes to chat templates."""
    assert {name: getattr(tok, name) for name in SPECIAL_TOKENS_MAP} == SPECIAL_TOKENS_MAP
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (199998, 200002, 199999)


@pytest.mark.parametrize("text", FIXED)
def test_fixed_text(enc, tok, text):
    ids = ids_of(tok, text)
    assert ids == enc.encode(text, allowed_special="all")
    if not any(spelling in text for spelling in enc.tokenizer.special_tokens):
        assert ids == enc.tokenizer.encode_ordinary(text)
    assert tok.decode(ids) == text


def test_random_corpus(enc, tok):
    """Thousands of seeded texts: the same ids as ``enc`` and a lossless decode, batch and one by one."""
    corpus = random_corpus()
    batch = tok(corpus, add_special_tokens=False)["input_ids"]
    wrong = [(text, got) for text, got in zip(corpus, batch) if got != enc.encode(text, allowed_special="all")]
    assert not wrong, f"{len(wrong)} of {len(corpus)} differ, first: {wrong[:3]}"
    assert [ids_of(tok, text) for text in corpus[:200]] == batch[:200]
    undecoded = [text for text, ids in zip(corpus, batch) if tok.decode(ids) != text]
    assert not undecoded, undecoded[:3]


def test_long_runs(enc, tok):
    """Long whitespace, digit and letter runs (the pattern's repetition and BPE over long pieces)."""
    for text in [" " * 1000, "\n" * 500 + "x", "9" * 1001, "a" * 3000, "ab" * 1500, "🙂" * 300, " \t\n" * 200,
                 "<|end|>" * 100]:
        assert ids_of(tok, text) == enc.encode(text, allowed_special="all"), text[:20]


def test_built_file_is_cached_per_run(tok):
    """The tokenizer.json is built once into the run's cache folder; later calls reuse the file and the object."""
    folder = cache_dir("hf-tokenizer")
    if folder is None:
        pytest.skip("caching is off (HARMONY_GRAMMAR_CACHE is empty)")
    path = tokenizer_file()
    assert path.parent == folder and path.stat().st_size > 10_000_000
    assert [p.name for p in folder.glob("gpt-oss-*.json")] == [path.name]
    assert gpt_oss_tokenizer() is tok
