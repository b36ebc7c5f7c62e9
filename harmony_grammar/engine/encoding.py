"""``HarmonyEncoding``: the reference's façade, binding the tokenizer bridge, the templates and the grammar.

    >>> enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    >>> convo = Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")])
    >>> enc.decode(enc.render_conversation_for_completion(convo, Role.ASSISTANT))
    '<|start|>user<|message|>Hi<|end|><|start|>assistant'
"""

from __future__ import annotations

import importlib
import os
import threading
from enum import Enum
from pathlib import Path
from functools import cached_property
from typing import (TYPE_CHECKING, AbstractSet, Any, Collection, Iterable, List, Literal, Mapping, Optional, Sequence,
                    Union)

from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import (
    Conversation,
    HarmonyDataError,
    Message,
    RenderConversationConfig,
    RenderOptions,
    Role,
)
from harmony_grammar.engine.mask import render_with_mask
from harmony_grammar.format.header import HeaderRules
from harmony_grammar.format.templating import DEFAULT_DIALECT, TemplateSet
from harmony_grammar.format.tokens import Tokenizer, as_token_id, load_tokenizer
from harmony_grammar.resources import package_version

if TYPE_CHECKING:
    from harmony_grammar.engine.constrain import CompletionGrammar, ToolChoice
    from harmony_grammar.engine.parse import Parser
    from harmony_grammar.engine.recover import Recovery
    from harmony_grammar.engine.render import Renderer

__all__ = ["HarmonyEncoding", "HarmonyEncodingName", "load_harmony_encoding"]


class HarmonyEncodingName(str, Enum):
    """Names accepted by :func:`load_harmony_encoding`."""

    HARMONY_GPT_OSS = "HarmonyGptOss"

    def __str__(self) -> str:
        return str(self.value)


class HarmonyEncoding:
    """Renders conversations to tokens and parses tokens back to messages."""

    def __init__(self, name: str, tokenizer: Tokenizer, templates: TemplateSet) -> None:
        self._name = name
        self.tokenizer = tokenizer
        self.templates = templates
        dialect = templates.read_json("dialect.json")
        if not isinstance(dialect, dict) or not isinstance(dialect.get("name"), str):
            raise HarmonyError(f"{templates.find('dialect.json')}: expected an object with a \"name\"")
        self.dialect: str = dialect["name"]
        self._header = HeaderRules.load(overrides=dialect.get("header"))
        self._lock = threading.Lock()
        self._engine: Optional[tuple["Renderer", "Parser"]] = None
        self._chat_template: Optional[str] = None

    def _parts(self) -> tuple["Renderer", "Parser"]:
        """The renderer and the parser, built on first use (they load lark and compile the grammar)."""
        parts = self._engine
        if parts is None:
            with self._lock:
                if self._engine is None:
                    from harmony_grammar.engine.parse import Parser
                    from harmony_grammar.engine.render import Renderer
                    from harmony_grammar.format.grammar import load_grammar

                    grammar = load_grammar(self.tokenizer)
                    self._engine = (Renderer(self.tokenizer, self.templates, grammar),
                                    Parser(self.tokenizer, grammar, self._header))
                parts = self._engine
        return parts

    @cached_property
    def _structure_texts(self) -> tuple[str, ...]:
        """The texts of <|start|> and the stop tokens (recovery ends a header at them)."""
        tok = self.tokenizer
        return tuple(tok.special_by_id[t] for t in sorted(tok.stop_tokens | {tok.special_id("<|start|>")}))

    @property
    def _renderer(self) -> "Renderer":
        return self._parts()[0]

    @property
    def parser(self) -> "Parser":
        """The batch parser (grammar, header rules and tokenizer), which the streaming parser shares."""
        return self._parts()[1]

    @property
    def name(self) -> str:
        return self._name

    @cached_property
    def special_tokens_set(self) -> set[str]:
        """The text of every special token, named and reserved."""
        return set(self.tokenizer.special_tokens)

    # -- rendering ---------------------------------------------------------

    def render_conversation_for_completion(
        self,
        conversation: Conversation | Iterable[Message],
        next_turn_role: Role,
        config: Optional[RenderConversationConfig] = None,
    ) -> List[int]:
        """Render a conversation and open the next turn (``<|start|>`` + role) for sampling."""
        return self._renderer.render_for_completion(conversation, next_turn_role, config)

    def render_conversation(
        self,
        conversation: Conversation | Iterable[Message],
        config: Optional[RenderConversationConfig] = None,
    ) -> List[int]:
        """Render a conversation without appending a new role."""
        return self._renderer.render_conversation(conversation, config)

    def render_conversation_for_training(
        self,
        conversation: Conversation | Iterable[Message],
        config: Optional[RenderConversationConfig] = None,
    ) -> List[int]:
        """Render a conversation for training: a final assistant answer ends in ``<|return|>``."""
        return self._renderer.render_for_training(conversation, config)

    def render_conversation_for_training_with_mask(
        self,
        conversation: Conversation | Iterable[Message],
        config: Optional[RenderConversationConfig] = None,
        *,
        train_on: Literal["last_turn", "all_assistant"] = "last_turn",
    ) -> tuple[List[int], List[int]]:
        """``render_conversation_for_training`` and a loss mask of the same length.

        The mask is 1 on the tokens the assistant writes after ``<|start|>assistant``
        (header, ``<|message|>``, content, terminator) and 0 elsewhere; ``train_on``
        picks the assistant messages after the last other message (``"last_turn"``)
        or all of them (``"all_assistant"``). See ``harmony_grammar.integrations.training``.
        """
        return render_with_mask(self._renderer, conversation, config, train_on)

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        add_generation_prompt: bool = True,
        tokenize: bool = True,
        **kwargs: Any,
    ) -> Union[List[int], str]:
        """transformers' ``apply_chat_template`` on Chat Completions messages: the token ids, or the text.

        The same as ``harmony_grammar.apply_chat_template(self, ...)``, which tells the keywords.

        >>> enc = load_harmony_encoding("HarmonyGptOss")
        >>> enc.apply_chat_template([{"role": "user", "content": "Hi"}], conversation_start_date="2025-06-28")[-2:]
        [200006, 173781]
        """
        # The chat bridge is a higher layer: it is found by name, when called.
        template = importlib.import_module("harmony_grammar.integrations.chat.template")
        return template.apply_chat_template(self, messages, tools, add_generation_prompt=add_generation_prompt,
                                            tokenize=tokenize, **kwargs)

    def chat_template(self) -> str:
        """A Hugging Face chat template, generated from this encoding's templates, that renders what
        :meth:`apply_chat_template` renders (with ``tokenize=False``), for transformers, TRL, llama.cpp and
        other engines; ``harmony-grammar chat-template`` writes it out.

        >>> enc = load_harmony_encoding("HarmonyGptOss")
        >>> enc.chat_template().splitlines()[1].split(" as ")[0]
        '  gpt-oss chat template: the harmony format'
        """
        if self._chat_template is None:
            export = importlib.import_module("harmony_grammar.integrations.chat_template.export")
            self._chat_template = export.export_chat_template(self, package_version())
        return self._chat_template

    def render(self, message: Message, render_options: Optional[RenderOptions] = None) -> List[int]:
        """Render a single message."""
        if not isinstance(message, Message):
            raise HarmonyError(f"message: expected a Message, found {type(message).__name__}")
        return self._renderer.render_message(message, render_options)

    # -- parsing -----------------------------------------------------------

    def parse_messages_from_completion_tokens(
        self,
        tokens: Sequence[int],
        role: Optional[Role] = None,
        *,
        strict: bool = True,
    ) -> List[Message]:
        """Parse tokens into messages. With ``role``, the tokens start after ``<|start|>ROLE``.

        ``strict=False`` tolerates a stop token inside a header, as the reference does.
        Errors raise ``HarmonyError`` naming the token index and what was expected.
        """
        from harmony_grammar.format.grammar import HarmonySyntaxError

        try:
            return self.parser.parse(tokens, role, strict)
        except HarmonySyntaxError:
            # The grammar reads the whole input first, but the reference reports problems in token
            # order, and a header before the syntax error may be wrong too. The streaming parser
            # works in token order: replaying the tokens through it raises the first problem.
            from harmony_grammar.engine.stream import StreamableParser

            replay = StreamableParser(self, role, strict=strict)
            for token in self.parser.ids(tokens):
                replay.process(token)
            replay.process_eos()
            raise

    def recover_messages_from_completion_tokens(self, tokens: Sequence[int], role: Optional[Role] = None) -> "Recovery":
        """Parse model output without ever raising on a list of ints, and without losing a token.

        Output the strict parser accepts comes back exactly as it parses it, with no
        diagnostics. Otherwise the rules of ``grammar/recovery.json`` repair it: every
        token is in one message's span or in the span of a diagnostic saying it was
        dropped. With ``role`` the tokens start after ``<|start|>ROLE``; without it,
        a header that follows no ``<|start|>`` is read as the assistant's. See
        :mod:`harmony_grammar.engine.recover`.
        """
        from harmony_grammar.engine.recover import Recovery, strict_reading_stands
        from harmony_grammar.engine.stream import StreamableParser

        ids = tokens if type(tokens) is list else list(tokens)
        spans: list[tuple[int, int]] = []
        try:
            messages = self.parser.parse(ids, role, True, spans)
        except HarmonyError:
            pass  # not well-formed (or not all token ids): the recovering parser reads it
        else:
            if strict_reading_stands(messages, self._structure_texts, self.parser.header.constrain_marker):
                return Recovery(messages, spans, [])
        stream = StreamableParser(self, role, recover=True)
        for token in ids:
            stream.process(token)
        stream.process_eos()
        return stream.recovery()

    # -- constraints ---------------------------------------------------------

    def completion_grammar(self, conversation: Conversation | Iterable[Message], *,
                           tool_choice: "ToolChoice" = "auto") -> "CompletionGrammar":
        """The grammar of every completion the model may write after this conversation's ``<|start|>assistant``.

        Its ``text`` is llguidance's Lark syntax, for vLLM, SGLang or llama.cpp; ``matcher()``
        gives an ``llguidance.LLMatcher`` (the ``constrain`` extra). See
        :mod:`harmony_grammar.engine.constrain`.
        """
        from harmony_grammar.engine.constrain import completion_grammar

        return completion_grammar(self, conversation, tool_choice=tool_choice)

    # -- tokens ------------------------------------------------------------

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encode text; special-token spellings raise unless allowed.

        >>> enc = load_harmony_encoding("HarmonyGptOss")
        >>> enc.encode("<|end|>", allowed_special={"<|end|>"})
        [200007]
        >>> enc.encode("<|end|>", disallowed_special=())
        [27, 91, 419, 91, 29]
        """
        return self.tokenizer.encode(text, allowed_special=allowed_special, disallowed_special=disallowed_special)

    def decode_utf8(self, tokens: Sequence[int]) -> str:
        """Decode tokens to text; invalid UTF-8 raises ``HarmonyError``."""
        return self.tokenizer.decode_utf8(tokens)

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Decode tokens to raw bytes."""
        return self.tokenizer.decode_bytes(tokens)

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Decode tokens to text, replacing invalid UTF-8 by default."""
        return self.tokenizer.decode_bytes(tokens).decode("utf-8", errors=errors)

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is a special token."""
        return self.tokenizer.is_special_token(as_token_id(token, 0))

    def stop_tokens(self) -> List[int]:
        """Tokens that end sampling: ``<|return|>``, ``<|end|>`` and ``<|call|>``."""
        return sorted(self.tokenizer.stop_tokens)

    def stop_tokens_for_assistant_actions(self) -> List[int]:
        """Tokens that end an assistant action: ``<|return|>`` and ``<|call|>``."""
        return sorted(self.tokenizer.stop_tokens_for_assistant_actions)


_lock = threading.Lock()
_encodings: dict[tuple[str, int, str, Optional[str]], HarmonyEncoding] = {}


def load_harmony_encoding(
    name: str | HarmonyEncodingName,
    *,
    dialect: str = DEFAULT_DIALECT,
    template_dir: Optional[str | os.PathLike[str]] = None,
) -> HarmonyEncoding:
    """Load an encoding by name (``"HarmonyGptOss"``); the vocabulary ships with the package.

    ``dialect`` picks the reference to match: ``"oss-harmony"`` (0.0.11, the default)
    or ``"openai-harmony"`` (0.0.8). ``template_dir`` is a folder of templates that
    override the dialect's, file by file (see ``harmony-grammar templates export``);
    they run in a sandbox.
    """
    key = str(name.value if isinstance(name, HarmonyEncodingName) else name)
    tokenizer = load_tokenizer()
    if key != tokenizer.table.name:
        raise HarmonyDataError(f"unknown encoding name {key!r} (expected {tokenizer.table.name!r})")
    user = None if template_dir is None else str(Path(template_dir).resolve())
    cache_key = (key, id(tokenizer), dialect, user)
    found = _encodings.get(cache_key)
    if found is None:
        with _lock:
            found = _encodings.get(cache_key)
            if found is None:
                found = HarmonyEncoding(key, tokenizer, TemplateSet.for_dialect(dialect, user))
                _encodings[cache_key] = found
    return found
