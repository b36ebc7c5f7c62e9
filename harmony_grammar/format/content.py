"""Message content from token ids: UTF-8 decoding exactly as the reference streams it.

The reference decodes content token by token. A multi-byte character split
across tokens is held back until it completes; an invalid byte sequence becomes
U+FFFD (one per token step, the rest waits for the next token); an id outside
the vocabulary poisons the rest of the message, which ends in U+FFFD followed
by whatever bytes were pending. :class:`ContentDecoder` is that algorithm;
:func:`decode_content` gives the same final text in one call.
"""

from __future__ import annotations

from typing import Optional, Sequence

from harmony_grammar.format.tokens import Tokenizer

__all__ = ["ContentDecoder", "decode_content", "REPLACEMENT"]

REPLACEMENT = "\ufffd"


class ContentDecoder:
    """Incremental decoder for the content of one message."""

    __slots__ = ("_bytes_of", "_n_vocab", "pending", "poisoned", "pieces")

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._bytes_of = tokenizer.token_bytes
        self._n_vocab = tokenizer.n_vocab
        self.pending = b""
        self.poisoned = False
        # Decoded pieces in the order the reference encodes them into content_tokens.
        self.pieces: list[str] = []

    def feed(self, token: int) -> Optional[str]:
        """Take one content token; return the text it completes (the reference's ``last_content_delta``)."""
        if self.poisoned:
            return None
        if token >= self._n_vocab:
            self.poisoned = True
            return None
        data = self.pending + self._bytes_of[token] if self.pending else self._bytes_of[token]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._partial(data, exc)
        self.pending = b""
        self.pieces.append(text)
        return text

    def _partial(self, data: bytes, exc: UnicodeDecodeError) -> Optional[str]:
        delta = ""
        if exc.start:
            valid = data[: exc.start].decode("utf-8")
            self.pieces.append(valid)
            delta = valid
        if exc.reason == "unexpected end of data":
            self.pending = data[exc.start:]
        else:
            self.pieces.append(REPLACEMENT)
            delta += REPLACEMENT
            self.pending = data[exc.end:]
        return delta or None

    def text(self) -> str:
        """The text decoded so far (the reference's ``current_content``)."""
        return "".join(self.pieces)

    def finish(self) -> str:
        """The message's final text, once its content has ended."""
        tail = REPLACEMENT if self.poisoned else ""
        return self.text() + tail + self.pending.decode("utf-8", "replace")


def decode_content(tokenizer: Tokenizer, tokens: Sequence[int]) -> str:
    """The final text of a message whose content is ``tokens`` (no stop tokens among them)."""
    if not tokens:
        return ""
    if max(tokens) < tokenizer.n_vocab:
        # Without out-of-vocabulary ids the token-by-token result equals a one-shot lossy decode.
        return tokenizer.decode_bytes(tokens).decode("utf-8", "replace")
    decoder = ContentDecoder(tokenizer)
    for token in tokens:
        decoder.feed(token)
    return decoder.finish()
