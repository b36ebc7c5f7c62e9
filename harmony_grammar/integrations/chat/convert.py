"""OpenAI-style chat messages to harmony and back.

Servers hold conversations in the Chat Completions shape (``role``, ``content``,
``tool_calls``, ``tool_call_id``, reasoning fields). This module maps them to a
harmony :class:`~harmony_grammar.Conversation` for rendering, and maps the
model's parsed output back to one assistant message. The rules live in
``templates/chat.json``; the README's table describes them.

    >>> convo = conversation_from_chat(
    ...     [{"role": "system", "content": "Be brief."},
    ...      {"role": "user", "content": "Weather in Paris?"},
    ...      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
    ...        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
    ...      {"role": "tool", "tool_call_id": "c1", "content": '{"temp":21}'}],
    ...     conversation_start_date="2025-06-28")
    >>> [(m.author.role.value, m.author.name, m.channel, m.recipient) for m in convo.messages]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('system', None, None, None), ('developer', None, None, None), ('user', None, None, None),
     ('assistant', None, 'commentary', 'functions.get_weather'),
     ('tool', 'functions.get_weather', 'commentary', 'assistant')]
    >>> msgs = [Message.from_role_and_content(Role.ASSISTANT, "Sunny.").with_channel("final")]
    >>> chat_message_from_completion(msgs)
    {'role': 'assistant', 'content': 'Sunny.'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union

from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import (
    Author,
    Conversation,
    DeveloperContent,
    Message,
    ReasoningEffort,
    Role,
    SystemContent,
    TextContent,
    ToolDescription,
    ToolNamespaceConfig,
)
from harmony_grammar.integrations.chat.stream import ChatStreamAdapter
from harmony_grammar.integrations.chat.mapping import (
    ChatMessageBuilder,
    builtin_tools as known_builtin_tools,
    mapping_rules,
    function_name,
    json_text,
    new_seed,
    tool_call_id,
)
from harmony_grammar.resources import load_json

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = [
    "conversation_from_chat",
    "chat_message_from_completion",
    "chat_message_from_tokens",
    "chat_from_conversation",
    "merge_deltas",
    "tool_call_id",
]


# -- chat -> harmony -----------------------------------------------------------


def _kind_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _text_parts(content: object, where: str, *, allow_none: bool = False) -> Optional[list[str]]:
    """The text of a chat ``content`` field: a string or a list of text parts."""
    if content is None:
        if allow_none:
            return None
        raise HarmonyError(f"{where}: expected a string or a list of text parts, found null")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise HarmonyError(f"{where}: expected a string or a list of text parts, found {_kind_name(content)}")
    kinds = mapping_rules()["text_part_types"]
    out = []
    for i, part in enumerate(content):
        if isinstance(part, str):
            out.append(part)
            continue
        if not isinstance(part, Mapping):
            raise HarmonyError(f"{where}[{i}]: expected a content part object, found {_kind_name(part)}")
        kind = part.get("type")
        if kind not in kinds:
            raise HarmonyError(
                f"{where}[{i}]: content part of type {kind!r} cannot be rendered in harmony "
                f"(only text parts: {', '.join(kinds)})")
        text = part.get("text", part.get("refusal")) if kind == "refusal" else part.get("text")
        if not isinstance(text, str):
            raise HarmonyError(f"{where}[{i}].text: expected a string, found {_kind_name(text)}")
        out.append(text)
    return out


def _function_entry(item: object, where: str, what: str) -> tuple[Mapping[str, Any], str]:
    """The function object of a ``tools`` or ``tool_calls`` entry, and its name, checked."""
    if not isinstance(item, Mapping):
        raise HarmonyError(f"{where}: expected an object, found {_kind_name(item)}")
    if item.get("type", "function") != "function":
        raise HarmonyError(f"{where}.type: only 'function' {what}, found {item.get('type')!r}")
    spec = item.get("function", item)  # Chat Completions nests; the Responses API does not
    if not isinstance(spec, Mapping):
        raise HarmonyError(f"{where}.function: expected an object, found {_kind_name(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise HarmonyError(f"{where}.function.name: expected a non-empty string, found {_kind_name(name)}")
    return spec, name


def _function_tools(tools: Sequence[Mapping[str, Any]]) -> list[ToolDescription]:
    out: list[ToolDescription] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        spec, name = _function_entry(tool, where, "tools can be declared")
        if name in seen:
            raise HarmonyError(f"{where}.function.name: {name!r} is declared twice")
        seen.add(name)
        description = spec.get("description") or ""
        if not isinstance(description, str):
            raise HarmonyError(f"{where}.function.description: expected a string, found {_kind_name(description)}")
        parameters = spec.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise HarmonyError(f"{where}.function.parameters: expected a JSON Schema object, "
                               f"found {_kind_name(parameters)}")
        out.append(ToolDescription.new(name, description, dict(parameters) if parameters is not None else None))
    return out


def _response_formats(response_format: object) -> list[dict[str, Any]]:
    """Chat ``response_format`` (or a list of them) to ``with_response_format`` arguments."""
    items = response_format if isinstance(response_format, list) else [response_format]
    out = []
    for i, item in enumerate(items):
        where = "response_format" + (f"[{i}]" if isinstance(response_format, list) else "")
        if not isinstance(item, Mapping):
            raise HarmonyError(f"{where}: expected an object, found {_kind_name(item)}")
        kind = item.get("type")
        if kind == "text":
            continue
        if kind != "json_schema":
            raise HarmonyError(f"{where}.type: harmony renders only 'json_schema' (or 'text') response formats, "
                               f"found {kind!r}")
        spec = item.get("json_schema", item)  # Chat Completions nests; the Responses API does not
        if not isinstance(spec, Mapping):
            raise HarmonyError(f"{where}.json_schema: expected an object, found {_kind_name(spec)}")
        name, schema, description = spec.get("name"), spec.get("schema"), spec.get("description")
        if not isinstance(name, str) or not name:
            raise HarmonyError(f"{where}.json_schema.name: expected a non-empty string, found {_kind_name(name)}")
        if not isinstance(schema, Mapping):
            raise HarmonyError(f"{where}.json_schema.schema: expected a JSON Schema object, "
                               f"found {_kind_name(schema)}")
        if description is not None and not isinstance(description, str):
            raise HarmonyError(f"{where}.json_schema.description: expected a string, "
                               f"found {_kind_name(description)}")
        out.append({"name": name, "schema": dict(schema), "description": description})
    return out


def _reasoning_effort(value: object) -> ReasoningEffort:
    if isinstance(value, ReasoningEffort):
        return value
    if isinstance(value, str):
        for effort in ReasoningEffort:
            if value.lower() == effort.value.lower():
                return effort
    raise HarmonyError(f"reasoning_effort: expected low, medium or high, found {value!r}")


def _recipient(name: str, builtins: Iterable[str]) -> tuple[str, bool]:
    """The harmony recipient of a chat tool name, and whether it is a built-in tool."""
    namespace = name.split(".", 1)[0]
    if namespace in builtins:
        return name, True
    prefix = mapping_rules()["functions_namespace"] + "."
    return (name if name.startswith(prefix) else prefix + name), False


def _reasoning(message: Mapping[str, Any], where: str) -> Optional[str]:
    found: Optional[str] = None
    for field in mapping_rules()["reasoning_fields"]:
        value = message.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            raise HarmonyError(f"{where}.{field}: expected a string, found {_kind_name(value)}")
        if found is not None and value != found:
            raise HarmonyError(f"{where}.{field}: differs from another reasoning field of the same message")
        found = value
    return found


def _json(value: object, where: str) -> str:
    """A value given as an object where harmony holds text, encoded once (``json_text`` in templates/chat.json)."""
    try:
        return json_text(value)
    except (TypeError, ValueError) as exc:
        raise HarmonyError(f"{where}: cannot be encoded as JSON: {exc}") from None


def _arguments(raw: object, where: str) -> str:
    if isinstance(raw, str):
        return raw
    if raw is None:
        return ""
    if isinstance(raw, Mapping):
        # Some clients send the arguments as an object; encode it once.
        return _json(raw, where)
    raise HarmonyError(f"{where}: expected the arguments as a JSON string, found {_kind_name(raw)}")


class _Calls:
    """The assistant's tool calls so far: by id, and those still waiting for a result, oldest first."""

    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str, bool]] = {}  # tool_call_id -> (recipient, built-in?)
        self.waiting: list[tuple[Optional[str], str, bool]] = []

    def add(self, call_id: Optional[str], recipient: str, builtin: bool) -> None:
        if call_id is not None:
            self.by_id[call_id] = (recipient, builtin)
        self.waiting.append((call_id, recipient, builtin))

    def answer(self, call_id: Optional[str] = None, recipient: Optional[str] = None) -> Optional[tuple[str, bool]]:
        """The call a result answers, taken off the waiting list: the one with ``call_id``, else the
        earliest waiting one (to ``recipient`` when given); None when there is none."""
        for i, (waiting_id, waiting_recipient, builtin) in enumerate(self.waiting):
            if (waiting_id == call_id) if call_id is not None else (recipient in (None, waiting_recipient)):
                del self.waiting[i]
                return waiting_recipient, builtin
        return None if call_id is None else self.by_id.get(call_id)


def _assistant_messages(message: Mapping[str, Any], where: str, builtins: Sequence[str],
                        calls_so_far: _Calls) -> list[Message]:
    rules = mapping_rules()
    out: list[Message] = []
    reasoning = _reasoning(message, where)
    if reasoning is not None:
        out.append(Message.from_role_and_content(Role.ASSISTANT, reasoning).with_channel(rules["reasoning_channel"]))
    texts = _text_parts(message.get("content"), f"{where}.content", allow_none=True)
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise HarmonyError(f"{where}.tool_calls: expected a list, found {_kind_name(calls)}")
    if texts is not None or (not calls and reasoning is None):
        # With tool calls, the text is a preamble: what gpt-oss says before calling tools.
        channel = rules["preamble_channel"] if calls else rules["final_channel"]
        body = Message(author=Author(role=Role.ASSISTANT),
                       content=[TextContent(text="".join(texts or []))], channel=channel)
        out.append(body)
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        function, name = _function_entry(call, at, "tool calls can be rendered")
        recipient, builtin = _recipient(name, builtins)
        shape = rules["builtin_call" if builtin else "function_call"]
        msg = Message.from_role_and_content(Role.ASSISTANT, _arguments(function.get("arguments"),
                                                                       f"{at}.function.arguments"))
        msg = msg.with_channel(shape["channel"]).with_recipient(recipient)
        if shape["content_type"] is not None:
            msg = msg.with_content_type(shape["content_type"])
        out.append(msg)
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise HarmonyError(f"{at}.id: expected a string, found {_kind_name(call_id)}")
        calls_so_far.add(call_id, recipient, builtin)
    return out


def _result_texts(content: object, where: str) -> list[str]:
    """A tool result's text: a string or content parts as they are, any other object or list as JSON."""
    parts = isinstance(content, list) and all(isinstance(p, Mapping) and "type" in p for p in content)
    if isinstance(content, Mapping) or (isinstance(content, list) and not parts):
        return [_json(content, where)]
    return _text_parts(content, where) or []


def _tool_message(message: Mapping[str, Any], where: str, builtins: Sequence[str],
                  calls_so_far: _Calls, legacy: bool) -> Message:
    rules = mapping_rules()
    name = message.get("name")
    if legacy:
        if not isinstance(name, str) or not name:
            raise HarmonyError(f"{where}.name: a function result needs the function's name, found {_kind_name(name)}")
        recipient, builtin = _recipient(name, builtins)
        calls_so_far.answer(recipient=recipient)
    else:
        call_id = message.get("tool_call_id")
        if call_id is not None and not isinstance(call_id, str):
            raise HarmonyError(f"{where}.tool_call_id: expected a string, found {_kind_name(call_id)}")
        # Without an id (as Hugging Face chat templates are given), a result answers the earliest
        # call still waiting for one, to the tool it names if it names one.
        named = _recipient(name, builtins)[0] if call_id is None and isinstance(name, str) and name else None
        found = calls_so_far.answer(call_id, named)
        if found is None:
            if call_id is not None:
                raise HarmonyError(f"{where}.tool_call_id: no earlier assistant tool call has the id {call_id!r}")
            to = f" to {name!r}" if named is not None else ""
            raise HarmonyError(f"{where}.tool_call_id: missing, and no earlier assistant tool call{to} "
                               f"is waiting for a result")
        recipient, builtin = found
    shape = rules["builtin_result" if builtin else "function_result"]
    texts = _result_texts(message.get("content"), f"{where}.content")
    return Message(author=Author(role=Role.TOOL, name=recipient), content=[TextContent(text="".join(texts))],
                   channel=shape["channel"], recipient=shape["recipient"])


def conversation_from_chat(
    messages: Sequence[Mapping[str, Any]],
    tools: Optional[Sequence[Mapping[str, Any]]] = None,
    *,
    reasoning_effort: Union[ReasoningEffort, str, None] = None,
    model_identity: Optional[str] = None,
    conversation_start_date: Optional[str] = None,
    knowledge_cutoff: Optional[str] = None,
    builtin_tools: Optional[Sequence[str]] = (),
    response_format: Union[Mapping[str, Any], Sequence[Mapping[str, Any]], None] = None,
) -> Conversation:
    """A harmony conversation from Chat Completions messages; raises ``HarmonyError`` naming the message index.

    The system message carries the keyword settings (unset ones keep the
    defaults of ``SystemContent.new()``) and the built-in tools (``"browser"``,
    ``"python"``). Leading ``system``/``developer`` messages, ``tools`` and
    ``response_format`` make up the developer message, which is left out when
    all three are empty (an empty system prompt, ``""`` or null, adds nothing).
    A list of text parts becomes one text, so it is tokenized as a chat template's
    output would be.
    A tool result names its call through ``tool_call_id``; without one it
    answers the earliest call still waiting for a result (to the tool its
    ``name`` names, if it has one). Result content given as an object, or a
    list that is not content parts, is encoded as compact JSON.
    """
    rules = mapping_rules()
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise HarmonyError(f"messages: expected a list of message objects, found {_kind_name(messages)}")
    system = SystemContent.new()
    if reasoning_effort is not None:
        system = system.with_reasoning_effort(_reasoning_effort(reasoning_effort))
    for field, value in (("model_identity", model_identity), ("conversation_start_date", conversation_start_date),
                         ("knowledge_cutoff", knowledge_cutoff)):
        if value is not None:
            if not isinstance(value, str):
                raise HarmonyError(f"{field}: expected a string, found {_kind_name(value)}")
            setattr(system, field, value)
    known = known_builtin_tools()
    if builtin_tools is None:
        builtin_tools = ()
    elif isinstance(builtin_tools, str):
        builtin_tools = (builtin_tools,)
    for name in builtin_tools:
        if name not in known:
            raise HarmonyError(f"builtin_tools: unknown tool {name!r} (known: {', '.join(known)})")
        system = system.with_tools(ToolNamespaceConfig.model_validate(load_json("templates", "tools", f"{name}.json")))
    builtins = tuple(builtin_tools)

    instructions: list[str] = []
    start = 0
    while start < len(messages) and isinstance(messages[start], Mapping) \
            and messages[start].get("role") in rules["instruction_roles"]:
        # An empty system prompt ("" or null) adds no instructions.
        texts = _text_parts(messages[start].get("content"), f"messages[{start}].content", allow_none=True)
        instructions.extend(t for t in texts or [] if t)
        start += 1

    developer = DeveloperContent.new()
    if instructions:
        developer = developer.with_instructions(rules["instructions_separator"].join(instructions))
    if tools:
        developer = developer.with_function_tools(_function_tools(tools))
    for spec in _response_formats(response_format) if response_format is not None else []:
        developer = developer.with_response_format(spec["name"], spec["schema"], spec["description"])

    out = [Message.from_role_and_content(Role.SYSTEM, system)]
    if developer.instructions is not None or developer.tools or developer.response_formats:
        out.append(Message.from_role_and_content(Role.DEVELOPER, developer))

    calls_so_far = _Calls()
    for i in range(start, len(messages)):
        message = messages[i]
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise HarmonyError(f"{where}: expected a message object, found {_kind_name(message)}")
        role = message.get("role")
        if role == "user":
            texts = _text_parts(message.get("content"), f"{where}.content") or []
            out.append(Message(author=Author(role=Role.USER), content=[TextContent(text="".join(texts))]))
        elif role == "assistant":
            out.extend(_assistant_messages(message, where, builtins, calls_so_far))
        elif role == "tool" or role == rules["legacy_function_role"]:
            out.append(_tool_message(message, where, builtins, calls_so_far, legacy=role != "tool"))
        elif role in rules["instruction_roles"]:
            raise HarmonyError(f"{where}.role: a {role} message may only come before the first user or "
                               f"assistant message (its text becomes the developer instructions)")
        else:
            raise HarmonyError(f"{where}.role: unknown role {role!r} (expected system, developer, user, "
                               f"assistant or tool)")
    return Conversation.from_messages(out)


# -- harmony -> chat -----------------------------------------------------------

def chat_message_from_completion(messages: Sequence[Message], *, call_id_seed: Optional[str] = None) -> dict[str, Any]:
    """One Chat Completions assistant message from parsed assistant messages.

    ``content`` joins the final messages and preambles (commentary without a
    recipient), ``reasoning_content`` the analysis messages, each with a blank
    line between messages; messages with a recipient become ``tool_calls``,
    with ids from ``call_id_seed`` (random when None; pass your completion id to
    get the same ids from :class:`ChatStreamAdapter`).
    """
    builder = ChatMessageBuilder(new_seed() if call_id_seed is None else call_id_seed)
    for i, message in enumerate(messages):
        builder.add(message, f"messages[{i}]")
    return builder.result()


def chat_message_from_tokens(
    encoding: "HarmonyEncoding",
    tokens: Sequence[int],
    role: Optional[Role] = Role.ASSISTANT,
    *,
    lenient: bool = False,
    call_id_seed: Optional[str] = None,
) -> dict[str, Any]:
    """Parse completion tokens into one chat assistant message.

    With ``lenient=True`` model output never raises: it is read by the
    recovering parser, each repair is a :class:`HarmonyWarning`, and no special
    token's text reaches ``content``, reasoning or tool-call arguments.
    """
    seed = new_seed() if call_id_seed is None else call_id_seed
    if not lenient:
        return chat_message_from_completion(encoding.parse_messages_from_completion_tokens(tokens, role),
                                            call_id_seed=seed)
    adapter = ChatStreamAdapter(encoding, role, lenient=True, call_id_seed=seed)
    for token in tokens:
        adapter.process(token)
    adapter.process_eos()
    return adapter.message()


def chat_from_conversation(conversation: Conversation, *, call_id_seed: Optional[str] = None) -> list[dict[str, Any]]:
    """Chat Completions messages from a harmony conversation (the inverse of :func:`conversation_from_chat`).

    The system message's settings and the declared tools are not messages and
    are left out; developer instructions become a leading ``system`` message.
    Tool results are matched to the earliest unanswered call to the same tool.
    """
    seed = new_seed() if call_id_seed is None else call_id_seed
    final = mapping_rules()["final_channel"]
    out: list[dict[str, Any]] = []
    builder: Optional[ChatMessageBuilder] = None
    calls = 0
    unanswered: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal builder, calls
        if builder is not None:
            message = builder.result()
            unanswered.extend(message.get("tool_calls", []))
            calls += len(builder.calls)
            out.append(message)
            builder = None

    for i, message in enumerate(conversation.messages):
        where = f"messages[{i}]"
        role = message.author.role
        texts = [c.text for c in message.content if isinstance(c, TextContent)]
        if role == Role.ASSISTANT:
            builder = builder or ChatMessageBuilder(seed, calls)
            builder.add(message, where)
            if message.channel == final and message.recipient is None:
                flush()  # a final message ends the assistant's turn
            continue
        flush()
        if role == Role.DEVELOPER:
            for content in message.content:
                if isinstance(content, DeveloperContent) and content.instructions is not None:
                    out.append({"role": "system", "content": content.instructions})
                elif isinstance(content, TextContent):
                    out.append({"role": "system", "content": content.text})
        elif role == Role.USER:
            out.append({"role": "user", "content": "".join(texts)})
        elif role == Role.TOOL:
            name = function_name(message.author.name or "")
            match = next((c for c in unanswered if c["function"]["name"] == name), None)
            if match is None:
                raise HarmonyError(f"{where}: a result from {message.author.name!r} answers no earlier tool call")
            unanswered.remove(match)
            out.append({"role": "tool", "tool_call_id": match["id"], "content": "".join(texts)})
    flush()
    return out


def merge_deltas(deltas: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Accumulate streamed delta dicts into one message, as an OpenAI client does.

    >>> merge_deltas([{"role": "assistant", "content": "Hel"}, {"content": "lo"}])
    {'role': 'assistant', 'content': 'Hello'}
    """
    out: dict[str, Any] = {}
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        for key, value in delta.items():
            if key == "tool_calls":
                for part in value:
                    call = calls.setdefault(part["index"], {"function": {"name": "", "arguments": ""}})
                    for field in ("id", "type"):
                        if field in part:
                            call[field] = part[field]
                    function = part.get("function", {})
                    call["function"]["name"] += function.get("name") or ""
                    call["function"]["arguments"] += function.get("arguments") or ""
            elif key == "role":
                out["role"] = value
            else:
                out[key] = (out.get(key) or "") + value if value is not None else out.get(key)
    if calls:
        out["tool_calls"] = [{"id": c.get("id"), "type": c.get("type", "function"), "function": c["function"]}
                             for _, c in sorted(calls.items())]
    if "role" in out:
        out.setdefault("content", None)
    return out
