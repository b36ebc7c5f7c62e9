"""The tokenizer bridge: special tokens, encode/decode, and loading the vocabulary.

Expected values were checked against oss-harmony 0.0.11 (its ``stop_tokens()``
is unsorted; ours is sorted, which the API leaves open).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

import harmony_grammar
from harmony_grammar import HarmonyEncodingName, HarmonyError, load_harmony_encoding
from harmony_grammar.engine import encoding as encoding_module
from harmony_grammar.format import tokens as tokens_module
from harmony_grammar.format.tokens import VOCAB_ENV_VAR, TokenTable, load_tokenizer

NAMED = {
    "<|startoftext|>": 199998,
    "<|endoftext|>": 199999,
    "<|return|>": 200002,
    "<|constrain|>": 200003,
    "<|channel|>": 200005,
    "<|start|>": 200006,
    "<|end|>": 200007,
    "<|message|>": 200008,
    "<|call|>": 200012,
}
NAMED_IDS = set(NAMED.values())
BUNDLED_VOCAB = Path(harmony_grammar.__file__).resolve().parent / "vocab" / "o200k_base.ranks"


def disallowed_message(token: str) -> str:
    """The reference wrapper's error text for a disallowed special token."""
    return (
        f"Encountered text corresponding to disallowed special token '{token}'.\n"
        f"If you want this text to be encoded as a special token, pass it to `allowed_special`, "
        f"e.g. `allowed_special={{'{token}', ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token by "
        f"passing `disallowed_special=(enc.special_tokens_set - {{'{token}'}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


# -- stop tokens and the special-token set ------------------------------------------------


def test_stop_tokens(enc):
    assert enc.stop_tokens() == [200002, 200007, 200012]


def test_stop_tokens_for_assistant_actions(enc):
    assert enc.stop_tokens_for_assistant_actions() == [200002, 200012]


def test_special_tokens_set_size_and_named_tokens(enc):
    special = enc.special_tokens_set
    assert len(special) == 1091
    assert {t for t in special if not t.startswith("<|reserved_")} == set(NAMED)


def test_special_tokens_set_reserved_range(enc):
    reserved = {t for t in enc.special_tokens_set if t.startswith("<|reserved_")}
    expected = {f"<|reserved_{i}|>" for i in range(200000, 201089) if i not in NAMED_IDS}
    assert reserved == expected
    assert "<|reserved_200014|>" in reserved
    assert "<|reserved_201088|>" in reserved
    assert "<|reserved_200013|>" in reserved
    assert "<|reserved_200002|>" not in reserved  # that id is <|return|>
    assert "<|reserved_201089|>" not in reserved


def test_special_token_ids_round_trip(enc):
    for text, tid in NAMED.items():
        assert enc.encode(text, allowed_special={text}) == [tid]
        assert enc.decode_utf8([tid]) == text


def test_is_special_token_ranges(enc):
    assert [t for t in range(199990, 201095) if enc.is_special_token(t)] == list(range(199998, 201089))
    assert not enc.is_special_token(0)
    assert not enc.is_special_token(24912)  # "hello"
    assert enc.is_special_token(200006)  # <|start|>
    assert not enc.is_special_token(10**6)


def test_is_special_token_rejects_non_integers(enc):
    with pytest.raises(HarmonyError) as info:
        enc.is_special_token("200006")  # type: ignore[arg-type]
    assert str(info.value) == "token 0: expected an integer token id, found str '200006'"


def test_tokenizer_special_id(enc):
    bridge = load_tokenizer()
    assert bridge.special_id("<|call|>") == 200012
    assert bridge.special_id("<|reserved_200100|>") == 200100
    with pytest.raises(HarmonyError) as info:
        bridge.special_id("<|nope|>")
    assert str(info.value) == "'<|nope|>' is not a special token of HarmonyGptOss"


def test_token_table_matches_vocabulary():
    table = TokenTable.load()
    assert table.name == "HarmonyGptOss"
    assert table.n_ranks == 199998
    assert {t.text: t.id for t in table.named} == NAMED
    assert (table.reserved_first, table.reserved_last) == (200000, 201088)
    assert load_tokenizer().n_vocab == 201089


# -- encoding -----------------------------------------------------------------------------


def test_encode_plain_text(enc):
    assert enc.encode("hello world") == [24912, 2375]
    assert enc.encode("") == []
    assert enc.encode("héllo 日本 🙂") == [79163, 72807, 17428, 26192]


def test_encode_allowed_special(enc):
    assert enc.encode("<|start|>", allowed_special={"<|start|>"}) == [200006]
    assert enc.encode("<|start|>", allowed_special="all") == [200006]
    assert enc.encode("hi <|end|> there", allowed_special={"<|end|>"}) == [3686, 220, 200007, 1354]
    assert enc.encode("<|reserved_200100|><|startoftext|><|endoftext|>", allowed_special="all") == [
        200100, 199998, 199999,
    ]


def test_encode_special_as_text_when_check_disabled(enc):
    assert enc.encode("<|start|>", disallowed_special=()) == [27, 91, 5236, 91, 29]
    assert enc.encode("hi <|end|> there", disallowed_special=()) == [3686, 464, 91, 419, 91, 29, 1354]
    assert enc.encode(
        "hi <|end|> <|start|>", allowed_special={"<|end|>"}, disallowed_special=()
    ) == [3686, 220, 200007, 464, 91, 5236, 91, 29]


@pytest.mark.parametrize(
    "text, kwargs, token",
    [
        ("<|start|>", {}, "<|start|>"),
        ("hi <|end|> there", {}, "<|end|>"),
        ("hi <|end|> there", {"allowed_special": {"<|start|>"}}, "<|end|>"),
        ("hi <|end|> <|start|>", {"disallowed_special": {"<|start|>"}}, "<|start|>"),
        ("<|reserved_200100|>", {}, "<|reserved_200100|>"),
        ("<|startoftext|>", {"allowed_special": set(), "disallowed_special": "all"}, "<|startoftext|>"),
    ],
)
def test_encode_disallowed_special_error_text(enc, text, kwargs, token):
    with pytest.raises(HarmonyError) as info:
        enc.encode(text, **kwargs)
    assert str(info.value) == disallowed_message(token)


def test_encode_partial_special_spelling_is_text(enc):
    assert enc.encode("a<|end") == [64, 27, 91, 419]


def test_encode_lone_surrogate_is_replaced(enc):
    assert enc.encode("x\ud800y") == [87, 3251, 88]


def test_encode_ordinary_never_makes_special_tokens():
    assert load_tokenizer().encode_ordinary("<|end|>") == [27, 91, 419, 91, 29]


# -- decoding -----------------------------------------------------------------------------


def test_decode_round_trip(enc):
    assert enc.decode_utf8(enc.encode("hello world")) == "hello world"
    assert enc.decode(enc.encode("hello world")) == "hello world"
    assert enc.decode_utf8([]) == ""


def test_decode_accepts_any_sequence(enc):
    assert enc.decode_utf8((24912, 2375)) == "hello world"
    assert enc.decode_utf8(iter([24912])) == "hello"


def test_reserved_token_decoding(enc):
    assert enc.decode_utf8([200014]) == "<|reserved_200014|>"
    assert enc.decode_utf8([201088]) == "<|reserved_201088|>"
    assert enc.decode_utf8([200000, 200013]) == "<|reserved_200000|><|reserved_200013|>"


def test_decode_bytes(enc):
    assert enc.decode_bytes([24912, 9552]) == b"hello \xf0\x9f"
    assert enc.decode_bytes([200007, 200014]) == b"<|end|><|reserved_200014|>"


def test_decode_utf8_invalid_utf8(enc):
    with pytest.raises(HarmonyError) as info:
        enc.decode_utf8([24912, 9552])
    assert str(info.value) == ("Could not decode tokens: Invalid utf-8 sequence: incomplete utf-8 byte sequence from "
                               "index 6 (token 1: the tokens do not decode to UTF-8 text; bad byte at offset 6)")


def test_decode_invalid_utf8_error_modes(enc):
    assert enc.decode([24912, 9552]) == "hello \ufffd"
    assert enc.decode([24912, 9552], errors="ignore") == "hello "
    with pytest.raises(UnicodeDecodeError):
        enc.decode([24912, 9552], errors="strict")
    assert "Chicken" in enc.decode([132990, 9552])


@pytest.mark.parametrize("method", ["decode_utf8", "decode", "decode_bytes"])
@pytest.mark.parametrize(
    "tokens, message",
    [
        # The reference's wording ("Invalid token for decoding: N") plus where it is.
        ([99999999], "Invalid token for decoding: 99999999 (token 0; the vocabulary has ids 0..201088)"),
        ([201089], "Invalid token for decoding: 201089 (token 0; the vocabulary has ids 0..201088)"),
        ([24912, 2375, 10**8], "Invalid token for decoding: 100000000 (token 2; the vocabulary has ids 0..201088)"),
        # Ids no token can have (the reference raises OverflowError for these).
        ([24912, -1], "token 1: id -1 is out of range (token ids are 0..4294967295)"),
        ([2**32], "token 0: id 4294967296 is out of range (token ids are 0..4294967295)"),
        ([24912, "a"], "token 1: expected an integer token id, found str 'a'"),
        ([1.5], "token 0: expected an integer token id, found float 1.5"),
        ([None], "token 0: expected an integer token id, found NoneType None"),
    ],
)
def test_decode_bad_token_names_its_index(enc, method, tokens, message):
    if method == "decode_utf8" and message.startswith("Invalid token for decoding"):
        message = "Could not decode tokens: Invalid token error: " + message  # as the reference's decode_utf8 says
    with pytest.raises(HarmonyError) as info:
        getattr(enc, method)(tokens)
    assert str(info.value) == message


# -- the encoding object -----------------------------------------------------------------


def test_load_harmony_encoding_by_name(enc):
    assert enc.name == "HarmonyGptOss"
    assert load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS) is enc
    assert load_harmony_encoding("HarmonyGptOss") is enc
    assert str(HarmonyEncodingName.HARMONY_GPT_OSS) == "HarmonyGptOss"


def test_load_harmony_encoding_unknown_name():
    # oss-harmony raises ValueError('Invalid HarmonyEncodingName: nope')
    with pytest.raises(HarmonyError) as info:
        load_harmony_encoding("nope")
    assert isinstance(info.value, ValueError)
    assert "'nope'" in str(info.value)


# -- TIKTOKEN_ENCODINGS_BASE ------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab_bytes() -> bytes:
    return tokens_module.tiktoken_file(tokens_module.bundled_vocabulary())


@pytest.fixture(autouse=True)
def private_caches(monkeypatch):
    """Tokenizers and encodings loaded by a test are forgotten after it."""
    monkeypatch.setattr(tokens_module, "_cache", dict(tokens_module._cache))
    monkeypatch.setattr(encoding_module, "_encodings", dict(encoding_module._encodings))


def load_tokenizer_bundled():
    return tokens_module._cache[("HarmonyGptOss", None)]


def test_vocabulary_from_env_dir(tmp_path, monkeypatch, vocab_bytes, enc):
    (tmp_path / "o200k_base.tiktoken").write_bytes(vocab_bytes)
    monkeypatch.setenv(VOCAB_ENV_VAR, str(tmp_path))
    bridge = load_tokenizer()
    assert bridge is not enc.tokenizer  # cached per (name, env value)
    assert tokens_module._cache[("HarmonyGptOss", str(tmp_path))] is bridge
    assert load_tokenizer() is bridge
    text = "hello world <|end|> 日本 🙂"
    assert bridge.encode_ordinary(text) == load_tokenizer_bundled().encode_ordinary(text)
    other = load_harmony_encoding("HarmonyGptOss")
    assert other is not enc and other.tokenizer is bridge
    assert other.encode("hello world") == [24912, 2375]
    assert other.encode("<|call|>", allowed_special="all") == [200012]
    assert other.decode_utf8([200006, 1428, 200008]) == "<|start|>user<|message|>"
    monkeypatch.delenv(VOCAB_ENV_VAR)
    assert load_tokenizer() is enc.tokenizer
    assert load_harmony_encoding("HarmonyGptOss") is enc


def test_vocabulary_env_dir_corrupted(tmp_path, monkeypatch, vocab_bytes):
    corrupted = bytearray(vocab_bytes)
    corrupted[100] ^= 0x01
    (tmp_path / "o200k_base.tiktoken").write_bytes(bytes(corrupted))
    monkeypatch.setenv(VOCAB_ENV_VAR, str(tmp_path))
    with pytest.raises(HarmonyError) as info:
        load_tokenizer()
    message = str(info.value)
    assert "sha256" in message
    assert str(tmp_path / "o200k_base.tiktoken") in message
    assert "expected 446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d" in message
    assert ("HarmonyGptOss", str(tmp_path)) not in tokens_module._cache
    with pytest.raises(HarmonyError):
        load_harmony_encoding("HarmonyGptOss")


def test_vocabulary_env_dir_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(VOCAB_ENV_VAR, str(tmp_path))
    with pytest.raises(HarmonyError) as info:
        load_tokenizer()
    message = str(info.value)
    assert message.startswith(f"{VOCAB_ENV_VAR}={str(tmp_path)!r} is set but ")
    assert str(tmp_path / "o200k_base.tiktoken") in message


def test_empty_env_var_means_bundled(monkeypatch, enc):
    monkeypatch.setenv(VOCAB_ENV_VAR, "")
    assert load_tokenizer() is enc.tokenizer


# -- the bundled vocabulary ---------------------------------------------------------


def test_bundled_vocabulary_is_exactly_the_published_o200k_ranks():
    """Written back as tiktoken's text file, the bundled ranks have the published sha256 (446a9538…1a2d)."""
    table = TokenTable.load()
    pieces = tokens_module.bundled_vocabulary()
    assert len(pieces) == table.n_ranks == 199998
    assert len(set(pieces)) == len(pieces)
    published = hashlib.sha256(tokens_module.tiktoken_file(pieces)).hexdigest()
    assert published == table.vocab_sha256 == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def test_bundled_file_is_checked_by_its_own_hash():
    table = TokenTable.load()
    assert hashlib.sha256(BUNDLED_VOCAB.read_bytes()).hexdigest() == table.bundled_sha256
    separator = bytes([table.bundled_separator])
    assert [p for p in tokens_module.bundled_vocabulary() if separator in p] == [separator]


def _bundled_copy(tmp_path, monkeypatch, data: bytes, table: TokenTable) -> TokenTable:
    folder = tmp_path / "vocab"
    folder.mkdir()
    (folder / table.bundled_file).write_bytes(data)
    monkeypatch.setattr(tokens_module, "data_dir", lambda name: folder)
    return table


def test_corrupted_bundled_file_names_both_hashes(tmp_path, monkeypatch):
    table = TokenTable.load()
    data = bytearray(BUNDLED_VOCAB.read_bytes())
    data[1000] ^= 0x01
    _bundled_copy(tmp_path, monkeypatch, bytes(data), table)
    with pytest.raises(HarmonyError) as info:
        tokens_module.bundled_vocabulary(table)
    digest = hashlib.sha256(bytes(data)).hexdigest()
    assert str(info.value) == (f"vocabulary bundled {table.bundled_file} has sha256 {digest}, "
                               f"expected {table.bundled_sha256}")


def test_bundled_file_with_a_wrong_rank_count_is_refused(tmp_path, monkeypatch):
    table = TokenTable.load()
    data = BUNDLED_VOCAB.read_bytes() + b"\x02extra"
    _bundled_copy(tmp_path, monkeypatch, data, table)
    rehashed = dataclasses.replace(table, bundled_sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(HarmonyError) as info:
        tokens_module.bundled_vocabulary(rehashed)
    assert str(info.value) == "bundled vocabulary has 199999 ranks, expected 199998"


def test_missing_bundled_file_is_a_harmony_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tokens_module, "data_dir", lambda name: tmp_path)
    with pytest.raises(HarmonyError) as info:
        tokens_module.bundled_vocabulary()
    assert str(info.value) == (f"bundled vocabulary {tmp_path / 'o200k_base.ranks'} is unreadable: "
                               "No such file or directory")


def test_tiktoken_file_is_base64_and_rank_per_line():
    assert tokens_module.tiktoken_file([b"\x00", b" hi", b"\xff\xfe"]) == b"AA== 0\nIGhp 1\n//4= 2\n"
