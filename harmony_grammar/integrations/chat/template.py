"""``apply_chat_template``: transformers' ``tokenizer.apply_chat_template`` for harmony, through the chat bridge.

The messages go through :func:`~harmony_grammar.integrations.chat.convert.conversation_from_chat`
and the conversation is rendered as a prompt (``add_generation_prompt=True``), as
training text (``add_generation_prompt=False`` after an assistant message) or as it is.

    >>> from harmony_grammar import load_harmony_encoding
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> text = apply_chat_template(enc, [{"role": "user", "content": "Hi"}], tokenize=False,
    ...                            conversation_start_date="2025-06-28")
    >>> text[text.index("<|start|>user"):]
    '<|start|>user<|message|>Hi<|end|><|start|>assistant'
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from harmony_grammar.errors import HarmonyError
from harmony_grammar.integrations.chat.convert import conversation_from_chat
from harmony_grammar.model import RenderConversationConfig, Role

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["apply_chat_template"]

# conversation_from_chat's settings, under the same names, and the render setting.
SETTINGS = ("reasoning_effort", "model_identity", "conversation_start_date", "knowledge_cutoff", "builtin_tools",
            "response_format", "auto_drop_analysis")


def _today() -> str:
    """The date the official gpt-oss template writes when none is given (``strftime_now("%Y-%m-%d")``)."""
    return datetime.date.today().isoformat()


def apply_chat_template(
    encoding: "HarmonyEncoding",
    messages: Sequence[Mapping[str, Any]],
    tools: Optional[Sequence[Mapping[str, Any]]] = None,
    *,
    add_generation_prompt: bool = True,
    tokenize: bool = True,
    **kwargs: Any,
) -> Union[list[int], str]:
    """Chat Completions messages to harmony token ids, or their text with ``tokenize=False``.

    ``add_generation_prompt=True`` renders a prompt ending in ``<|start|>assistant``;
    ``False`` renders the conversation for training when the last message is the
    assistant's (its final answer ends in ``<|return|>``), and as it is otherwise.
    The keywords are ``conversation_from_chat``'s settings (``reasoning_effort``,
    ``model_identity``, ``conversation_start_date``, ``knowledge_cutoff``,
    ``builtin_tools``, ``response_format``) and ``auto_drop_analysis``, which is
    False for the training render (the reasoning is kept for the model to learn)
    and True otherwise, as in the reference. Without ``conversation_start_date``
    the system message has today's date. Any other keyword is a ``HarmonyError``.
    """
    unknown = [name for name in kwargs if name not in SETTINGS]
    if unknown:
        raise HarmonyError(f"apply_chat_template: unknown keyword argument{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(map(repr, unknown))} (harmony takes {', '.join(SETTINGS)})")
    auto_drop = kwargs.pop("auto_drop_analysis", None)
    if kwargs.get("conversation_start_date") is None:
        kwargs["conversation_start_date"] = _today()
    conversation = conversation_from_chat(messages, tools, **kwargs)
    last = messages[-1] if messages else None
    training = not add_generation_prompt and isinstance(last, Mapping) and last.get("role") == "assistant"
    if auto_drop is None:
        auto_drop = not training
    if not isinstance(auto_drop, bool):
        raise HarmonyError(f"auto_drop_analysis: expected true or false, found {type(auto_drop).__name__}")
    config = RenderConversationConfig(auto_drop_analysis=auto_drop)
    if add_generation_prompt:
        tokens = encoding.render_conversation_for_completion(conversation, Role.ASSISTANT, config)
    elif training:
        tokens = encoding.render_conversation_for_training(conversation, config)
    else:
        tokens = encoding.render_conversation(conversation, config)
    return tokens if tokenize else encoding.decode(tokens)
