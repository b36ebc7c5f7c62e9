"""harmony-grammar: the harmony response format of gpt-oss, as a grammar and templates.

A drop-in for ``openai_harmony``::

    >>> from harmony_grammar import load_harmony_encoding, HarmonyEncodingName, Conversation, Message, Role
    >>> enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    >>> tokens = enc.render_conversation_for_completion(
    ...     Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")]), Role.ASSISTANT)
    >>> tokens
    [200006, 1428, 200008, 12194, 200007, 200006, 173781]
"""

import gc
from typing import TYPE_CHECKING, Any

# The imports below make tens of thousands of objects that all live on; collecting while they
# are made only costs time (about 8% of the import).
_collecting = gc.isenabled()
gc.disable()
try:
    from harmony_grammar.engine.encoding import HarmonyEncoding, HarmonyEncodingName, load_harmony_encoding
    from harmony_grammar.errors import HarmonyError, HarmonyWarning
    from harmony_grammar.model import (
        Author,
        ChannelConfig,
        Content,
        Conversation,
        DeveloperContent,
        HarmonyDataError,
        Message,
        ReasoningEffort,
        RenderConversationConfig,
        RenderOptions,
        ResponseFormat,
        Role,
        SystemContent,
        TextContent,
        ToolDescription,
        ToolNamespaceConfig,
    )
finally:
    if _collecting:
        gc.enable()
    del _collecting

# Everything beyond the core loads on first use: name -> the module that defines it.
_LAZY = {
    "StreamableParser": "harmony_grammar.engine.stream",
    "StreamState": "harmony_grammar.engine.stream",
    "conversation_from_chat": "harmony_grammar.integrations.chat.convert",
    "chat_message_from_completion": "harmony_grammar.integrations.chat.convert",
    "chat_message_from_tokens": "harmony_grammar.integrations.chat.convert",
    "chat_from_conversation": "harmony_grammar.integrations.chat.convert",
    "merge_deltas": "harmony_grammar.integrations.chat.convert",
    "ChatStreamAdapter": "harmony_grammar.integrations.chat.stream",
    "completion_grammar_from_chat": "harmony_grammar.integrations.chat.grammar",
    "apply_chat_template": "harmony_grammar.integrations.chat.template",
    "Diagnostic": "harmony_grammar.tools.validate",
    "validate": "harmony_grammar.tools.validate",
    "validate_file": "harmony_grammar.tools.validate",
}

if TYPE_CHECKING:
    from harmony_grammar.engine.stream import StreamableParser, StreamState
    from harmony_grammar.integrations.chat.convert import (
        chat_from_conversation,
        chat_message_from_completion,
        chat_message_from_tokens,
        conversation_from_chat,
        merge_deltas,
    )
    from harmony_grammar.integrations.chat.grammar import completion_grammar_from_chat
    from harmony_grammar.integrations.chat.stream import ChatStreamAdapter
    from harmony_grammar.integrations.chat.template import apply_chat_template
    from harmony_grammar.tools.validate import Diagnostic, validate, validate_file


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harmony_grammar' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Role",
    "Author",
    "Content",
    "TextContent",
    "SystemContent",
    "DeveloperContent",
    "ResponseFormat",
    "ToolDescription",
    "ToolNamespaceConfig",
    "ChannelConfig",
    "ReasoningEffort",
    "Message",
    "Conversation",
    "RenderConversationConfig",
    "RenderOptions",
    "HarmonyEncoding",
    "HarmonyEncodingName",
    "load_harmony_encoding",
    "StreamableParser",
    "StreamState",
    "HarmonyError",
    "HarmonyDataError",
    "HarmonyWarning",
    "conversation_from_chat",
    "chat_message_from_completion",
    "chat_message_from_tokens",
    "chat_from_conversation",
    "ChatStreamAdapter",
    "merge_deltas",
    "completion_grammar_from_chat",
    "apply_chat_template",
    "Diagnostic",
    "validate",
    "validate_file",
]
