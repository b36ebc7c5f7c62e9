"""harmony-grammar: the harmony response format of gpt-oss, as a grammar and templates.

A drop-in for ``openai_harmony``::

    >>> from harmony_grammar import load_harmony_encoding, HarmonyEncodingName, Conversation, Message, Role
    >>> enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    >>> tokens = enc.render_conversation_for_completion(
    ...     Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")]), Role.ASSISTANT)
    >>> tokens
    [200006, 1428, 200008, 12194, 200007, 200006, 173781]
"""

from .encoding import HarmonyEncoding, HarmonyEncodingName, load_harmony_encoding
from .errors import HarmonyError, HarmonyWarning
from .chat import (
    chat_from_conversation,
    chat_message_from_completion,
    chat_message_from_tokens,
    conversation_from_chat,
    merge_deltas,
)
from .chat_stream import ChatStreamAdapter
from .stream import StreamableParser, StreamState
from .validate import Diagnostic, validate, validate_file
from .model import (
    Author,
    ChannelConfig,
    Content,
    Conversation,
    DeveloperContent,
    HarmonyDataError,
    ResponseFormat,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    RenderOptions,
    Role,
    SystemContent,
    TextContent,
    ToolDescription,
    ToolNamespaceConfig,
)

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
    "Diagnostic",
    "validate",
    "validate_file",
]
