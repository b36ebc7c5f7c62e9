"""The conversation data model: pydantic v2 types with the same names, fields and methods as ``openai_harmony``.

Code written against the reference runs unchanged::

    >>> msg = Message.from_role_and_content(Role.USER, "What is 2 + 2?")
    >>> msg.to_json()
    '{"role": "user", "name": null, "content": [{"type": "text", "text": "What is 2 + 2?"}]}'
    >>> Message.from_dict(msg.to_dict()) == msg
    True

Malformed dictionaries and JSON raise :class:`HarmonyDataError` (a ``HarmonyError``
that is also a ``ValueError``) or pydantic's ``ValidationError``, naming the field.
"""

from __future__ import annotations

import json
from enum import Enum
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Union

from pydantic import BaseModel, ConfigDict, Field

from harmony_grammar.errors import HarmonyError
from harmony_grammar.resources import load_json

__all__ = [
    "Role",
    "Author",
    "Content",
    "TextContent",
    "ToolDescription",
    "ReasoningEffort",
    "ChannelConfig",
    "ToolNamespaceConfig",
    "SystemContent",
    "DeveloperContent",
    "ResponseFormat",
    "Message",
    "Conversation",
    "RenderConversationConfig",
    "RenderOptions",
    "HarmonyDataError",
]


class HarmonyDataError(HarmonyError, ValueError):
    """Malformed conversation data: a missing field, a wrong type, an unknown role or content type.

    It is also a ``ValueError``, which is what the reference raises for unknown
    roles and content types.
    """


@lru_cache(maxsize=None)
def _system_defaults() -> dict[str, Any]:
    return dict(load_json("templates", "defaults.json")["system"])


# Validators are built on first use, not at import: most programs touch few of the types.
_DEFERRED = ConfigDict(defer_build=True)


class Role(str, Enum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    DEVELOPER = "developer"
    TOOL = "tool"

    @classmethod
    def _missing_(cls, value: object) -> "Role":
        raise ValueError(f"Unknown role: {value!r}")


class Author(BaseModel):
    """A role, and for tools (or named participants) a name."""

    model_config = _DEFERRED

    role: Role
    name: Optional[str] = None

    @classmethod
    def new(cls, role: Role, name: str) -> "Author":
        """An author with a name, e.g. ``Author.new(Role.TOOL, "functions.get_weather")``."""
        return cls(role=role, name=name)


class Content(BaseModel):
    """Base of the message content variants."""

    model_config = _DEFERRED

    def to_dict(self) -> Dict[str, Any]:
        raise NotImplementedError


class TextContent(Content):
    """Plain text; always encoded as ordinary tokens."""

    text: str

    def to_dict(self) -> Dict[str, Any]:
        return {"type": "text", "text": self.text}


class ToolDescription(BaseModel):
    """One tool: a name, a description and an optional JSON Schema for its parameters."""

    model_config = _DEFERRED

    name: str
    description: str
    parameters: Optional[dict] = None

    @classmethod
    def new(cls, name: str, description: str, parameters: Optional[dict] = None) -> "ToolDescription":
        return cls(name=name, description=description, parameters=parameters)


class ReasoningEffort(str, Enum):
    """How hard the model should think; rendered as ``Reasoning: low|medium|high``."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class ChannelConfig(BaseModel):
    """The channels a conversation may use, and whether every message must name one."""

    model_config = _DEFERRED

    valid_channels: List[str]
    channel_required: bool

    @classmethod
    def require_channels(cls, channels: List[str]) -> "ChannelConfig":
        return cls(valid_channels=channels, channel_required=True)


class ToolNamespaceConfig(BaseModel):
    """A namespace of tools, rendered as a TypeScript-like ``namespace NAME { ... }``."""

    model_config = _DEFERRED

    name: str
    description: Optional[str] = None
    tools: List[ToolDescription]

    @staticmethod
    def browser() -> "ToolNamespaceConfig":
        """The built-in browser tool (``templates/tools/browser.json``)."""
        return ToolNamespaceConfig.model_validate(load_json("templates", "tools", "browser.json"))

    @staticmethod
    def python() -> "ToolNamespaceConfig":
        """The built-in python tool (``templates/tools/python.json``)."""
        return ToolNamespaceConfig.model_validate(load_json("templates", "tools", "python.json"))


def _default_channel_config() -> ChannelConfig:
    defaults = _system_defaults()
    return ChannelConfig(
        valid_channels=list(defaults["valid_channels"]), channel_required=defaults["channel_required"]
    )


# NaN and infinities in tool schemas serialize as NaN/Infinity (not null), so the renderer can
# refuse them as the reference does instead of confusing them with null.
_JSON_CONSTANTS = ConfigDict(ser_json_inf_nan="constants", defer_build=True)


class SystemContent(Content):
    """The system message: identity, dates, reasoning effort, channels and built-in tools."""

    model_config = _JSON_CONSTANTS

    model_identity: Optional[str] = Field(default_factory=lambda: _system_defaults()["model_identity"])
    reasoning_effort: Optional[ReasoningEffort] = Field(
        default_factory=lambda: ReasoningEffort(_system_defaults()["reasoning_effort"])
    )
    conversation_start_date: Optional[str] = Field(
        default_factory=lambda: _system_defaults()["conversation_start_date"]
    )
    knowledge_cutoff: Optional[str] = Field(default_factory=lambda: _system_defaults()["knowledge_cutoff"])
    channel_config: Optional[ChannelConfig] = Field(default_factory=_default_channel_config)
    tools: Optional[dict[str, ToolNamespaceConfig]] = None

    @classmethod
    def new(cls) -> "SystemContent":
        return cls()

    def with_model_identity(self, model_identity: str) -> "SystemContent":
        self.model_identity = model_identity
        return self

    def with_reasoning_effort(self, reasoning_effort: ReasoningEffort) -> "SystemContent":
        self.reasoning_effort = reasoning_effort
        return self

    def with_conversation_start_date(self, conversation_start_date: str) -> "SystemContent":
        self.conversation_start_date = conversation_start_date
        return self

    def with_knowledge_cutoff(self, knowledge_cutoff: str) -> "SystemContent":
        self.knowledge_cutoff = knowledge_cutoff
        return self

    def with_channel_config(self, channel_config: ChannelConfig) -> "SystemContent":
        self.channel_config = channel_config
        return self

    def with_required_channels(self, channels: list[str]) -> "SystemContent":
        self.channel_config = ChannelConfig.require_channels(channels)
        return self

    def with_tools(self, ns_config: ToolNamespaceConfig) -> "SystemContent":
        if self.tools is None:
            self.tools = {}
        self.tools[ns_config.name] = ns_config
        return self

    def with_browser_tool(self) -> "SystemContent":
        return self.with_tools(ToolNamespaceConfig.browser())

    def with_python_tool(self) -> "SystemContent":
        return self.with_tools(ToolNamespaceConfig.python())

    def to_dict(self) -> dict:
        out = self.model_dump(exclude_none=True)
        out["type"] = "system_content"
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> "SystemContent":
        return cls(**raw)


class ResponseFormat(BaseModel):
    """A structured-output format: rendered under ``# Response Formats`` at the end of the developer message.

    ``schema`` is a JSON Schema (the attribute is ``schema_``, since pydantic reserves ``schema``)::

        >>> ResponseFormat(name="shopping_list", schema={"type": "object"}).to_dict()
        {'name': 'shopping_list', 'schema': {'type': 'object'}}
    """

    model_config = ConfigDict(populate_by_name=True, ser_json_inf_nan="constants", defer_build=True)

    name: str
    description: Optional[str] = None
    schema_: dict = Field(alias="schema")

    def to_dict(self) -> Dict[str, Any]:
        return self.model_dump(exclude_none=True, by_alias=True)


class DeveloperContent(Content):
    """The developer message: instructions, function tools and response formats."""

    model_config = _JSON_CONSTANTS

    instructions: Optional[str] = None
    tools: Optional[dict[str, ToolNamespaceConfig]] = None
    response_formats: Optional[List[ResponseFormat]] = None

    @classmethod
    def new(cls) -> "DeveloperContent":
        return cls()

    def with_instructions(self, instructions: str) -> "DeveloperContent":
        self.instructions = instructions
        return self

    def with_tools(self, ns_config: ToolNamespaceConfig) -> "DeveloperContent":
        if self.tools is None:
            self.tools = {}
        self.tools[ns_config.name] = ns_config
        return self

    def with_function_tools(self, tools: Sequence[ToolDescription]) -> "DeveloperContent":
        return self.with_tools(ToolNamespaceConfig(name="functions", description=None, tools=list(tools)))

    def with_response_format(
        self, name: str, schema: dict, description: Optional[str] = None
    ) -> "DeveloperContent":
        """Add a response format; several may be added, and they render in the order added.

        >>> dev = DeveloperContent.new().with_response_format("answer", {"type": "string"}, "One word.")
        >>> [f.name for f in dev.response_formats]
        ['answer']
        """
        if self.response_formats is None:
            self.response_formats = []
        self.response_formats.append(ResponseFormat(name=name, schema=schema, description=description))
        return self

    def to_dict(self) -> dict:
        out = self.model_dump(exclude_none=True, by_alias=True)
        out["type"] = "developer_content"
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> "DeveloperContent":
        return cls(**raw)


_CONTENT_TYPES: dict[str, type[Content]] = {
    "text": TextContent,
    "system_content": SystemContent,
    "developer_content": DeveloperContent,
}


def _short(value: object) -> str:
    """A bounded repr for error messages (values may be huge or deeply nested)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def _content_from_dict(raw: object, where: str) -> Content:
    if not isinstance(raw, dict):
        raise HarmonyDataError(f"{where}: expected an object with a 'type', found {type(raw).__name__}")
    kind = raw.get("type")
    cls = _CONTENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(repr(k) for k in _CONTENT_TYPES)
        raise HarmonyDataError(f"{where}.type: unknown content type {_short(kind)} (expected one of {known})")
    bad = next((k for k in raw if not isinstance(k, str)), None)
    if bad is not None:
        raise HarmonyDataError(f"{where}: field names must be strings, found {_short(bad)}")
    fields = {k: v for k, v in raw.items() if k != "type"}
    return cls(**fields)


class Message(BaseModel):
    """One message: an author, content, and optional channel, recipient and content type."""

    model_config = _DEFERRED

    author: Author
    content: List[Content] = Field(default_factory=list)
    channel: Optional[str] = None
    recipient: Optional[str] = None
    content_type: Optional[str] = None

    @classmethod
    def from_author_and_content(cls, author: Author, content: Union[str, Content]) -> "Message":
        if isinstance(content, str):
            content = TextContent(text=content)
        return cls(author=author, content=[content])

    @classmethod
    def from_role_and_content(cls, role: Role, content: Union[str, Content]) -> "Message":
        return cls.from_author_and_content(Author(role=role), content)

    @classmethod
    def from_role_and_contents(cls, role: Role, contents: Sequence[Content]) -> "Message":
        return cls(author=Author(role=role), content=list(contents))

    def adding_content(self, content: Union[str, Content]) -> "Message":
        if isinstance(content, str):
            content = TextContent(text=content)
        self.content.append(content)
        return self

    def with_channel(self, channel: str) -> "Message":
        self.channel = channel
        return self

    def with_recipient(self, recipient: str) -> "Message":
        self.recipient = recipient
        return self

    def with_content_type(self, content_type: str) -> "Message":
        self.content_type = content_type
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The reference's JSON shape: ``role``, ``name``, ``content`` and the optional header fields."""
        out: Dict[str, Any] = {
            **self.author.model_dump(),
            "content": [c.to_dict() for c in self.content],
        }
        if self.channel is not None:
            out["channel"] = self.channel
        if self.recipient is not None:
            out["recipient"] = self.recipient
        if self.content_type is not None:
            out["content_type"] = self.content_type
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Message":
        """Build a message from the reference's JSON shape; ``content`` may be a plain string."""
        if not isinstance(data, dict):
            raise HarmonyDataError(f"message: expected an object, found {type(data).__name__}")
        if "role" not in data:
            raise HarmonyDataError("message.role: missing (expected one of "
                                   + ", ".join(repr(r.value) for r in Role) + ")")
        raw_role = data["role"]
        try:
            if not isinstance(raw_role, str):
                raise ValueError
            role = Role(raw_role)
        except ValueError:
            raise HarmonyDataError(
                f"message.role: unknown role {_short(raw_role)} (expected one of "
                + ", ".join(repr(r.value) for r in Role) + ")"
            ) from None
        if "content" not in data:
            raise HarmonyDataError("message.content: missing (expected a string or a list of contents)")
        raw_content = data["content"]
        if isinstance(raw_content, str):
            raw_content = [{"type": "text", "text": raw_content}]
        if not isinstance(raw_content, list):
            raise HarmonyDataError(
                f"message.content: expected a string or a list, found {type(raw_content).__name__}"
            )
        contents = [_content_from_dict(raw, f"message.content[{i}]") for i, raw in enumerate(raw_content)]
        return cls(
            author=Author(role=role, name=data.get("name")),
            content=contents,
            channel=data.get("channel"),
            recipient=data.get("recipient"),
            content_type=data.get("content_type"),
        )


class Conversation(BaseModel):
    """An ordered list of messages."""

    model_config = _DEFERRED

    messages: List[Message] = Field(default_factory=list)

    @classmethod
    def from_messages(cls, messages: Sequence[Message]) -> "Conversation":
        return cls(messages=list(messages))

    def __iter__(self):  # type: ignore[override]
        return iter(self.messages)

    def to_dict(self) -> Dict[str, Any]:
        return {"messages": [m.to_dict() for m in self.messages]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, payload: str) -> "Conversation":
        """Parse ``Conversation.to_json`` output; errors name the line and column or the field."""
        try:
            data = json.loads(payload)
        except UnicodeDecodeError as exc:
            raise HarmonyDataError(f"conversation JSON: not UTF-8 text (byte {exc.start})") from None
        except RecursionError:
            raise HarmonyDataError("conversation JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise HarmonyDataError(f"conversation JSON, line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except TypeError:
            raise HarmonyDataError(
                f"conversation JSON: expected str or bytes, found {type(payload).__name__}"
            ) from None
        if not isinstance(data, dict):
            raise HarmonyDataError(f"conversation: expected an object, found {type(data).__name__}")
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise HarmonyDataError(
                "conversation.messages: " + ("missing" if messages is None else
                                             f"expected a list, found {type(messages).__name__}")
            )
        out = []
        for i, raw in enumerate(messages):
            try:
                out.append(Message.from_dict(raw))
            except HarmonyDataError as exc:
                raise HarmonyDataError(str(exc).replace("message", f"messages[{i}]", 1)) from None
        return cls(messages=out)


class RenderConversationConfig(BaseModel):
    """Options for rendering a whole conversation."""

    model_config = _DEFERRED

    auto_drop_analysis: bool = True


class RenderOptions(BaseModel):
    """Options for rendering one message."""

    model_config = _DEFERRED

    conversation_has_function_tools: bool = False
