"""Streaming completion tokens as OpenAI-style chat deltas.

:class:`ChatStreamAdapter` wraps :class:`~harmony_grammar.StreamableParser`
and routes each message by its header: analysis to ``reasoning_content``,
final messages and preambles to ``content``, messages with a recipient to
``tool_calls[index].function.arguments``. A delta never mixes channels, and
the concatenated deltas equal :func:`~harmony_grammar.integrations.chat.convert.chat_message_from_tokens`.

    >>> from harmony_grammar import load_harmony_encoding
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> tokens = enc.encode("<|channel|>analysis<|message|>Think.<|end|><|start|>assistant"
    ...                     "<|channel|>final<|message|>Done.<|return|>", allowed_special="all")
    >>> adapter = ChatStreamAdapter(enc)
    >>> [d for t in tokens for d in adapter.process(t)]
    [{'role': 'assistant', 'reasoning_content': 'Think'}, {'reasoning_content': '.'}, {'content': 'Done'}, {'content': '.'}]
    >>> adapter.finish_reason
    'stop'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from harmony_grammar.integrations.chat.mapping import ChatMessageBuilder, mapping_rules, message_kind, new_seed, warn
from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.content import ContentDecoder
from harmony_grammar.model import Role, TextContent
from harmony_grammar.engine.stream import StreamableParser, StreamState

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["ChatStreamAdapter"]


class ChatStreamAdapter:
    """Turns completion tokens, one at a time, into chat delta dicts.

    ``process(token)`` and ``process_eos()`` return a list of deltas (often
    empty); the first delta also carries ``"role"``. ``message()`` is the
    whole assistant message so far. With ``lenient=True`` model output never
    raises: the tokens are read by the recovering parser
    (:mod:`harmony_grammar.engine.recover`), each repair is a
    :class:`~harmony_grammar.HarmonyWarning` and an entry of ``warnings``, and no
    special token's text reaches ``content``, reasoning or tool-call arguments.
    """

    def __init__(
        self,
        encoding: "HarmonyEncoding",
        role: Optional[Role] = Role.ASSISTANT,
        *,
        lenient: bool = False,
        call_id_seed: Optional[str] = None,
    ) -> None:
        rules = mapping_rules()
        self._lenient = bool(lenient)
        self.parser = StreamableParser(encoding, role, recover=self._lenient)
        self._tokenizer = encoding.tokenizer
        self._builder = ChatMessageBuilder(new_seed() if call_id_seed is None else call_id_seed)
        self._fields = {"content": "content", "reasoning": rules["output_reasoning_field"]}
        self._joiner: str = rules["joiner"]
        self._role: Optional[str] = "assistant"  # sent with the first delta
        self._done = 0  # parser messages already given to the builder
        self._kind: Optional[str] = None  # of the open message: content, reasoning or tool_call
        self._parts: list[str] = []  # text streamed for the open message
        self._present: set[str] = set()  # kinds whose field has been sent
        self._shown: set[str] = set()  # kinds with non-empty text sent
        self._reported = 0  # parser diagnostics already turned into warnings
        self._ended = False
        self._index = -1  # of the last token processed
        self.warnings: list[str] = []

    # -- deltas ----------------------------------------------------------------

    def _delta(self, out: list[dict[str, Any]], delta: dict[str, Any]) -> None:
        if self._role is not None:
            delta = {"role": self._role, **delta}
            self._role = None
        out.append(delta)

    def _open(self, out: list[dict[str, Any]], role: Optional[Role], channel: Optional[str],
              recipient: Optional[str]) -> None:
        if role != Role.ASSISTANT:
            problem = (f"token {self._index}: a message from {getattr(role, 'value', role)!r} in a completion; "
                       "expected assistant messages only")
            if not self._lenient:
                raise HarmonyError(problem)
            self._warn(problem + " (read as the assistant's)")
        self._parts = []
        self._decoder = ContentDecoder(self._tokenizer)
        self._kind = message_kind(channel, recipient)
        if self._kind == "tool_call":
            call = self._builder.add_call(recipient or "", "")
            self._delta(out, {"tool_calls": [{"index": len(self._builder.calls) - 1, "id": call["id"],
                                              "type": "function",
                                              "function": {"name": call["function"]["name"], "arguments": ""}}]})

    def _stream(self, out: list[dict[str, Any]], text: str) -> None:
        """Send text of the open message; a blank line separates it from earlier messages of its kind."""
        if not text or self._kind is None:
            return
        first = not self._parts
        self._parts.append(text)
        if self._kind == "tool_call":
            self._delta(out, {"tool_calls": [{"index": len(self._builder.calls) - 1,
                                              "function": {"arguments": text}}]})
            return
        if first and self._kind in self._shown:
            text = self._joiner + text
        self._shown.add(self._kind)
        self._present.add(self._kind)
        self._delta(out, {self._fields[self._kind]: text})

    def _close(self, out: list[dict[str, Any]], text: str) -> None:
        """The open message is complete with ``text``: record it exactly as the batch path does."""
        if self._lenient:
            self._stream(out, self._decoder.finish()[len(self._decoder.text()):])  # what it held back
            text = "".join(self._parts)
        streamed = "".join(self._parts)
        if text != streamed and text.startswith(streamed):
            self._stream(out, text[len(streamed):])  # e.g. a replacement character for cut-off UTF-8
        kind = self._kind
        if kind == "tool_call":
            self._builder.calls[-1]["function"]["arguments"] = text
        elif kind is not None:
            if kind not in self._present:
                self._present.add(kind)
                self._delta(out, {self._fields[kind]: ""})  # the field is present, as in the batch result
            self._builder.add_text(kind, text)
        self._kind = None
        self._parts = []

    # -- feeding ----------------------------------------------------------------

    def process(self, token: int) -> list[dict[str, Any]]:
        """Feed one token; return the deltas it completes."""
        out: list[dict[str, Any]] = []
        self._index += 1
        self.parser.process(token)
        self._after(out, self.parser.last_token)
        return out

    def process_eos(self) -> list[dict[str, Any]]:
        """End the stream; return the last deltas."""
        out: list[dict[str, Any]] = []
        if self._ended:
            return out
        self.parser.process_eos()
        self._after(out, None)
        self._ended = True
        if self._role is not None:
            self._delta(out, {})
        return out

    def _after(self, out: list[dict[str, Any]], token: Optional[int]) -> None:
        parser = self.parser
        if self._lenient:
            self._report()
        opened = self._kind is None and parser.state is StreamState.CONTENT
        if opened:
            self._open(out, parser.current_role, parser.current_channel, parser.current_recipient)
        if self._kind is not None:
            if not self._lenient:
                self._stream(out, parser.last_content_delta or "")
            elif not opened and token is not None and parser.state is StreamState.CONTENT:
                self._stream(out, self._visible(token))
        if parser.message_count == self._done:
            return
        for message in parser.messages_from(self._done):
            if self._kind is None:  # completed without a content state: open it now
                self._open(out, message.author.role, message.channel, message.recipient)
            self._close(out, "".join(c.text for c in message.content if isinstance(c, TextContent)))
            self._done += 1

    # -- lenient ----------------------------------------------------------------------

    def _visible(self, token: int) -> str:
        """Lenient mode decodes content itself, leaving special tokens out (each one reported)."""
        if self._tokenizer.is_special_token(token):
            spelled = self._tokenizer.special_by_id[token]
            self._warn(f"token {self._index}: special token {spelled} inside the content: left out of the text")
            return ""
        return self._decoder.feed(token) or ""

    def _report(self) -> None:
        parser = self.parser
        if parser.diagnostic_count > self._reported:
            for d in parser.diagnostics_from(self._reported):
                self._warn(d.format())
            self._reported = parser.diagnostic_count

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warn(message)

    # -- results -------------------------------------------------------------------

    def message(self) -> dict[str, Any]:
        """The chat message of the messages completed so far; after ``process_eos``, of the whole completion.

        Raw text after a lenient fallback joins ``content`` at ``process_eos``.
        """
        return self._builder.result()

    @property
    def finish_reason(self) -> str:
        """``"tool_calls"`` if the completion called a tool, else ``"stop"``."""
        return "tool_calls" if self._builder.calls else "stop"
