"""The tokenizer bridge: tiktoken's o200k BPE plus the special-token table of grammar/tokens.json.

It maps text to token ids and back, and special tokens both ways::

    >>> bridge = load_tokenizer()
    >>> bridge.encode_ordinary("<|end|>")          # text never becomes a special token
    [27, 91, 419, 91, 29]
    >>> bridge.special_id("<|end|>")
    200007
    >>> bridge.decode_utf8([200006, 1428, 200008])
    '<|start|>user<|message|>'
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import AbstractSet, Collection, Iterable, Literal, Sequence

from tiktoken._tiktoken import CoreBPE

from harmony_grammar.errors import HarmonyError
from harmony_grammar.resources import data_dir, load_json

__all__ = ["SpecialToken", "TokenTable", "Tokenizer", "load_tokenizer", "bundled_vocabulary", "tiktoken_file", "VOCAB_ENV_VAR", "MAX_TOKEN_ID",
           "as_token_id", "as_token_ids", "utf8_error_text"]

VOCAB_ENV_VAR = "TIKTOKEN_ENCODINGS_BASE"


@dataclass(frozen=True)
class SpecialToken:
    """One named special token of the table."""

    text: str
    id: int
    terminal: str | None = None
    stop: bool = False
    stop_for_assistant_actions: bool = False


@dataclass(frozen=True)
class TokenTable:
    """The contents of ``grammar/tokens.json``: names, ids, stop flags and the reserved range."""

    name: str
    tokenizer_name: str
    vocab_file: str
    vocab_sha256: str
    n_ranks: int
    bundled_file: str
    bundled_separator: int
    bundled_sha256: str
    pattern: str
    named: tuple[SpecialToken, ...]
    reserved_first: int
    reserved_last: int
    reserved_text: str

    @classmethod
    def load(cls) -> "TokenTable":
        """Read the table shipped with the package."""
        raw = load_json("grammar", "tokens.json")
        try:
            vocab = raw["vocabulary"]
            bundled = raw["bundled"]
            reserved = raw["reserved"]
            return cls(
                name=raw["name"],
                tokenizer_name=raw["tokenizer"],
                vocab_file=vocab["file"],
                vocab_sha256=vocab["sha256"],
                n_ranks=int(vocab["ranks"]),
                bundled_file=bundled["file"],
                bundled_separator=int(bundled["separator"]),
                bundled_sha256=bundled["sha256"],
                pattern="|".join(raw["pattern"]),
                named=tuple(SpecialToken(**entry) for entry in raw["special_tokens"]),
                reserved_first=int(reserved["first"]),
                reserved_last=int(reserved["last"]),
                reserved_text=reserved["text"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HarmonyError(f"grammar/tokens.json is malformed: {exc!r}") from None

    def all_special(self) -> dict[str, int]:
        """Every special token, named and reserved, as text -> id."""
        out = {tok.text: tok.id for tok in self.named}
        named_ids = set(out.values())
        for tid in range(self.reserved_first, self.reserved_last + 1):
            if tid not in named_ids:
                out[self.reserved_text.format(id=tid)] = tid
        return out


def _read_vocab(table: TokenTable) -> list[bytes]:
    """The token byte strings in rank order: from TIKTOKEN_ENCODINGS_BASE if set, else the bundled copy.

    Either file is checked against its sha256 in ``grammar/tokens.json`` before it is read.
    """
    base = os.environ.get(VOCAB_ENV_VAR)
    if not base:
        return bundled_vocabulary(table)
    path = Path(base) / table.vocab_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarmonyError(
            f"{VOCAB_ENV_VAR}={base!r} is set but {path} cannot be read: {exc.strerror}"
        ) from None
    _check_digest(data, table.vocab_sha256, str(path))
    return _tiktoken_pieces(data, table.n_ranks)


def bundled_vocabulary(table: TokenTable | None = None) -> list[bytes]:
    """The bundled ranks' token bytes, in rank order, checked against their sha256.

    >>> pieces = bundled_vocabulary()
    >>> len(pieces), pieces[0], pieces[2], pieces[24912]
    (199998, b'!', b'#', b'hello')
    """
    table = table or TokenTable.load()
    path = data_dir("vocab") / table.bundled_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarmonyError(f"bundled vocabulary {path} is unreadable: {exc.strerror}") from None
    _check_digest(data, table.bundled_sha256, f"bundled {path.name}")
    return _bundled_pieces(data, table)


def _check_digest(data: bytes, expected: str, where: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise HarmonyError(f"vocabulary {where} has sha256 {digest}, expected {expected}")


def _bundled_pieces(data: bytes, table: TokenTable) -> list[bytes]:
    """The tokens of the bundled file (already hash-checked): split at the separator; the empty field is the separator."""
    separator = bytes([table.bundled_separator])
    pieces = data.split(separator)
    if len(pieces) != table.n_ranks:
        raise HarmonyError(f"bundled vocabulary has {len(pieces)} ranks, expected {table.n_ranks}")
    pieces[pieces.index(b"")] = separator
    return pieces


def _tiktoken_pieces(data: bytes, n_ranks: int) -> list[bytes]:
    """The token byte strings of tiktoken's ``base64 rank`` lines, in rank order.

    The file's sha256 was checked already, so its ranks are known to be 0..n-1 in order.
    """
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) != n_ranks:
        raise HarmonyError(f"vocabulary file has {len(lines)} ranks, expected {n_ranks}")
    try:
        return list(map(binascii.a2b_base64, [line.partition(b" ")[0] for line in lines]))
    except binascii.Error as exc:
        raise HarmonyError(f"vocabulary file is malformed: {exc}") from None


def tiktoken_file(pieces: Sequence[bytes]) -> bytes:
    """The ranks as tiktoken's own text file (``base64 rank`` per line), e.g. for ``TIKTOKEN_ENCODINGS_BASE``.

    >>> tiktoken_file([b"a", b"bc"])
    b'YQ== 0\\nYmM= 1\\n'
    """
    return b"".join(b"%s %d\n" % (binascii.b2a_base64(p, newline=False), i) for i, p in enumerate(pieces))


class Tokenizer:
    """BPE text <-> ids, with the harmony special tokens mapped both ways."""

    def __init__(self, table: TokenTable, pieces: list[bytes]) -> None:
        self.table = table
        self.special_tokens: dict[str, int] = table.all_special()
        self.special_by_id: dict[int, str] = {v: k for k, v in self.special_tokens.items()}
        self.n_vocab = max(self.special_by_id) + 1
        self._by_name = {tok.text: tok for tok in table.named}
        self.stop_tokens: frozenset[int] = frozenset(t.id for t in table.named if t.stop)
        self.stop_tokens_for_assistant_actions: frozenset[int] = frozenset(
            t.id for t in table.named if t.stop_for_assistant_actions
        )
        self.terminal_of: dict[int, str] = {t.id: t.terminal for t in table.named if t.terminal}
        # tiktoken's BPE core, built directly: the Encoding wrapper would keep the rank dict alive.
        self._core = CoreBPE(dict(zip(pieces, range(len(pieces)))), self.special_tokens, table.pattern)
        # id -> bytes, for the per-token streaming path.
        by_id = {tid: text.encode("utf-8") for text, tid in self.special_tokens.items()}
        self.token_bytes: tuple[bytes, ...] = tuple(pieces) + tuple(by_id[i] for i in range(len(pieces), self.n_vocab))
        self._special_regex_cache: dict[frozenset[str], re.Pattern[str]] = {}

    # -- special tokens -------------------------------------------------

    def special_id(self, text: str) -> int:
        """The id of a special token given by its text, e.g. ``"<|start|>"``."""
        try:
            return self.special_tokens[text]
        except KeyError:
            raise HarmonyError(f"{text!r} is not a special token of {self.table.name}") from None

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is one of the special tokens (named or reserved)."""
        return token in self.special_by_id

    # -- encoding --------------------------------------------------------

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text as ordinary tokens only; special-token spellings stay text."""
        try:
            return self._core.encode_ordinary(text)
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return self._core.encode_ordinary(text)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encode text; special-token spellings are errors unless allowed (tiktoken's rules)."""
        if allowed_special == "all":
            allowed_special = frozenset(self.special_tokens)
        if disallowed_special == "all":
            disallowed_special = frozenset(self.special_tokens) - set(allowed_special)
        if disallowed_special:
            found = self._special_regex(frozenset(disallowed_special)).search(text)
            if found:
                token = found.group()
                raise HarmonyError(
                    f"Encountered text corresponding to disallowed special token {token!r}.\n"
                    "If you want this text to be encoded as a special token, pass it to "
                    f"`allowed_special`, e.g. `allowed_special={{'{token}', ...}}`.\n"
                    "If you want this text to be encoded as normal text, disable the check for "
                    f"this token by passing `disallowed_special=(enc.special_tokens_set - {{'{token}'}})`.\n"
                    "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
                )
        allowed = set(allowed_special) & self.special_tokens.keys()
        try:
            return self._core.encode(text, allowed)
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return self._core.encode(text, allowed)

    def _special_regex(self, tokens: frozenset[str]) -> re.Pattern[str]:
        pattern = self._special_regex_cache.get(tokens)
        if pattern is None:
            pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
            if len(self._special_regex_cache) < 64:
                self._special_regex_cache[tokens] = pattern
        return pattern

    # -- decoding --------------------------------------------------------

    def check_tokens(self, tokens: Iterable[object]) -> list[int]:
        """``tokens`` as ids in the vocabulary, or ``HarmonyError`` naming the first bad one and its index."""
        ids = as_token_ids(tokens, MAX_TOKEN_ID)
        if ids and max(ids) >= self.n_vocab:
            index = next(i for i, t in enumerate(ids) if t >= self.n_vocab)
            raise HarmonyError(f"Invalid token for decoding: {ids[index]} (token {index}; "
                               f"the vocabulary has ids 0..{self.n_vocab - 1})")
        return ids

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Concatenate the bytes of ``tokens``; special tokens decode to their spelling."""
        ids = self.check_tokens(tokens)
        return self._core.decode_bytes(ids)

    def decode_utf8(self, tokens: Sequence[int]) -> str:
        """Decode ``tokens`` to text, raising ``HarmonyError`` on invalid UTF-8.

        Errors start with the reference's wording ("Could not decode tokens: ..."), then name the token.
        """
        try:
            data = self.decode_bytes(tokens)
        except HarmonyError as exc:
            if str(exc).startswith("Invalid token for decoding: "):
                raise HarmonyError(f"Could not decode tokens: Invalid token error: {exc}") from None
            raise
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            ids = self.check_tokens(tokens)
            index, offset = 0, 0
            while index < len(ids) and offset + len(self.token_bytes[ids[index]]) <= exc.start:
                offset += len(self.token_bytes[ids[index]])
                index += 1
            raise HarmonyError(
                f"Could not decode tokens: Invalid utf-8 sequence: {utf8_error_text(exc)} "
                f"(token {index}: the tokens do not decode to UTF-8 text; bad byte at offset {exc.start})"
            ) from None


def utf8_error_text(exc: UnicodeDecodeError) -> str:
    r"""Python's UTF-8 decoding error as Rust's ``Utf8Error`` displays it (both follow the same
    "maximal subpart" rule, so the lengths agree)::

        >>> try:
        ...     b"ab\xe2\x82".decode("utf-8")
        ... except UnicodeDecodeError as exc:
        ...     print(utf8_error_text(exc))
        incomplete utf-8 byte sequence from index 2
    """
    if exc.reason == "unexpected end of data":
        return f"incomplete utf-8 byte sequence from index {exc.start}"
    return f"invalid utf-8 sequence of {exc.end - exc.start} bytes from index {exc.start}"


# Token ids are unsigned 32-bit, as in the reference; larger or negative ids are errors.
MAX_TOKEN_ID = 2**32 - 1


def as_token_id(token: object, index: int, upper: int = MAX_TOKEN_ID) -> int:
    """One token id as an int in 0..upper (bools and numpy integers are accepted, as the reference does)."""
    if type(token) is int and 0 <= token <= upper:
        return token
    try:
        value = token.__index__()  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        raise HarmonyError(f"token {index}: expected an integer token id, found {type(token).__name__} "
                           f"{token!r}") from None
    if not 0 <= value <= upper:
        raise HarmonyError(f"token {index}: id {value} is out of range (token ids are 0..{upper})")
    return value


def as_token_ids(tokens: object, upper: int = MAX_TOKEN_ID) -> list[int]:
    """A sequence of token ids as a list of ints in 0..upper, or ``HarmonyError`` naming the first bad one."""
    try:
        ids = tokens if type(tokens) is list else list(tokens)  # type: ignore[call-overload]
    except TypeError:
        raise HarmonyError(f"tokens: expected a sequence of token ids, found {type(tokens).__name__}") from None
    try:
        if all(type(t) is int for t in ids) and (not ids or (min(ids) >= 0 and max(ids) <= upper)):
            return ids
    except TypeError:
        pass
    return [as_token_id(t, i, upper) for i, t in enumerate(ids)]


_lock = threading.Lock()
_cache: dict[tuple[str, str | None], Tokenizer] = {}


def load_tokenizer() -> Tokenizer:
    """The process-wide tokenizer for the current vocabulary source (loaded once, thread-safe)."""
    key = ("HarmonyGptOss", os.environ.get(VOCAB_ENV_VAR) or None)
    found = _cache.get(key)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(key)
        if found is None:
            table = TokenTable.load()
            enabled = gc.isenabled()
            gc.disable()  # 200k new objects would trigger many useless collections
            try:
                found = Tokenizer(table, _read_vocab(table))
            finally:
                if enabled:
                    gc.enable()
            _cache[key] = found
    return found
