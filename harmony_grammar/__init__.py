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
from .errors import HarmonyError
from .stream import StreamableParser, StreamState
from .validate import Diagnostic, validate, validate_file
from .model import (
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
    "Diagnostic",
    "validate",
    "validate_file",
]
