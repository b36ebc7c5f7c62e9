"""Constrained decoding for a Chat Completions request: the completion grammar of its messages and tools.

    >>> from harmony_grammar import load_harmony_encoding
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
    ...     "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    >>> grammar = completion_grammar_from_chat(enc, [{"role": "user", "content": "Weather in Paris?"}], [weather],
    ...                                        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    >>> print(grammar.text.splitlines()[3])
    ending: call
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from harmony_grammar.integrations.chat.convert import conversation_from_chat

if TYPE_CHECKING:
    from harmony_grammar.engine.constrain import CompletionGrammar, ToolChoice
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["completion_grammar_from_chat"]


def completion_grammar_from_chat(
    enc: "HarmonyEncoding",
    messages: Sequence[Mapping[str, Any]],
    tools: Optional[Sequence[Mapping[str, Any]]] = None,
    *,
    tool_choice: "Optional[ToolChoice]" = "auto",
    response_format: Union[Mapping[str, Any], Sequence[Mapping[str, Any]], None] = None,
    **settings: Any,
) -> "CompletionGrammar":
    """The grammar of the assistant's reply to a Chat Completions request, for a constrained sampler.

    ``messages``, ``tools``, ``response_format`` and ``settings`` (``reasoning_effort``,
    ``model_identity``, ``conversation_start_date``, ``knowledge_cutoff``, ``builtin_tools``)
    are read as ``conversation_from_chat`` reads them. ``tool_choice`` takes the request's
    shapes: ``"auto"`` (also for None, the field left out), ``"none"``, ``"required"``,
    ``{"type": "function", "function": {"name": N}}`` or ``{"name": N}``. A ``json_schema``
    response format makes the final answer JSON valid against it. Raises ``HarmonyError``.
    """
    conversation = conversation_from_chat(messages, tools, response_format=response_format, **settings)
    return enc.completion_grammar(conversation, tool_choice="auto" if tool_choice is None else tool_choice)
