"""OpenAI-style chat messages to harmony and back: requests, completions and streamed deltas.

``convert`` maps whole messages, ``stream`` maps completion tokens to deltas as
they arrive, ``grammar`` gives a request's completion grammar for constrained
decoding, and ``mapping`` holds what they share (``templates/chat.json``).
"""

from harmony_grammar.integrations.chat.convert import (
    chat_from_conversation,
    chat_message_from_completion,
    chat_message_from_tokens,
    conversation_from_chat,
    merge_deltas,
)
from harmony_grammar.integrations.chat.grammar import completion_grammar_from_chat
from harmony_grammar.integrations.chat.mapping import tool_call_id
from harmony_grammar.integrations.chat.stream import ChatStreamAdapter
from harmony_grammar.integrations.chat.template import apply_chat_template

__all__ = [
    "conversation_from_chat",
    "chat_message_from_completion",
    "chat_message_from_tokens",
    "chat_from_conversation",
    "merge_deltas",
    "tool_call_id",
    "ChatStreamAdapter",
    "completion_grammar_from_chat",
    "apply_chat_template",
]
