"""Training data: conversations to ``input_ids`` and ``loss_mask``, one record or one batch of columns.

A record is one conversation, in either of two shapes:

- ``harmony``: ``{"messages": [...]}`` in the reference's JSON shape (what
  ``Conversation.to_json`` writes);
- ``chat``: ``{"messages": [...], "tools": [...], ...}`` in the Chat Completions
  shape, with the keyword settings of :func:`~harmony_grammar.conversation_from_chat`
  as optional keys.

:func:`render_batch` maps a batch of columns, the form Hugging Face ``datasets``
(``dataset.map(render_batch, batched=True)``) and Ray Data (``map_batches``)
hand to a function::

    >>> batch = {"messages": [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]]}
    >>> out = render_batch(batch)
    >>> sorted(out), len(out["input_ids"][0]) == len(out["loss_mask"][0])
    (['input_ids', 'loss_mask'], True)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Optional

from harmony_grammar.integrations.chat.convert import conversation_from_chat, mapping_rules
from harmony_grammar.errors import HarmonyError
from harmony_grammar.resources import load_json
from harmony_grammar.model import Conversation, HarmonyDataError, Message, RenderConversationConfig

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["SHAPES", "detect_shape", "conversation_from_record", "render_record", "render_batch"]

SHAPES = ("auto", "harmony", "chat")

# Keys of a chat record passed on to conversation_from_chat (other keys, e.g. an id, are ignored).
_CHAT_SETTINGS = ("tools", "reasoning_effort", "model_identity", "conversation_start_date", "knowledge_cutoff",
                  "builtin_tools", "response_format")
_HARMONY_MESSAGE_KEYS = ("channel", "recipient", "content_type")
# Keys that datasets often store as JSON text; a string value is read as JSON.
_JSON_TEXT_KEYS = ("messages", "tools", "response_format")


def detect_shape(record: Mapping[str, Any]) -> Optional[str]:
    """``"harmony"`` or ``"chat"`` when the record shows which it is, else None.

    >>> detect_shape({"messages": [{"role": "user", "content": "Hi"}]})
    'chat'
    >>> detect_shape({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}) is None
    True
    """
    rules = mapping_rules()
    harmony_content_types = load_json("templates", "format.json")["content_roles"]
    chat_keys = ("tool_calls", "tool_call_id", *rules["reasoning_fields"])
    chat = harmony = False
    if any(record.get(key) is not None for key in _CHAT_SETTINGS):
        chat = True
    messages = record.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str) or message.get("role") == rules["legacy_function_role"]:
            chat = True
        if any(message.get(key) is not None for key in chat_keys):
            chat = True
        if any(message.get(key) is not None for key in _HARMONY_MESSAGE_KEYS):
            harmony = True
        if isinstance(content, list) and any(isinstance(part, Mapping) and part.get("type") in harmony_content_types
                                             for part in content):
            harmony = True
    if chat == harmony:
        return None
    return "chat" if chat else "harmony"


def conversation_from_record(record: Any, shape: str = "auto") -> Conversation:
    """The conversation a record holds (a dict, or its JSON text); ``HarmonyError`` names what is wrong."""
    if shape not in SHAPES:
        raise HarmonyError(f"shape: expected one of {', '.join(SHAPES)}, found {shape!r}")
    if isinstance(record, (str, bytes)):
        try:
            record = json.loads(record)
        except json.JSONDecodeError as exc:
            raise HarmonyError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
        except UnicodeDecodeError as exc:
            raise HarmonyError(f"not UTF-8 at byte {exc.start}") from None
        except RecursionError:
            raise HarmonyError("invalid JSON: nested too deeply") from None
    if not isinstance(record, Mapping):
        raise HarmonyError(f"expected a JSON object with 'messages', found {_kind(record)}")
    record = {key: _json_text(key, value) if key in _JSON_TEXT_KEYS else value for key, value in record.items()}
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise HarmonyError(f"messages: expected a list of messages, found {_kind(messages)}")
    if shape == "auto":
        found = detect_shape(record)
        if found is None:
            raise HarmonyError("cannot tell whether this is the harmony or the chat shape; "
                               "say which (--input harmony|chat, or shape=)")
        shape = found
    if shape == "chat":
        settings = {key: record[key] for key in _CHAT_SETTINGS if record.get(key) is not None}
        return conversation_from_chat(messages, **settings)
    out = []
    for i, message in enumerate(messages):
        try:
            out.append(Message.from_dict(message))
        except HarmonyError as exc:
            raise HarmonyDataError(f"messages[{i}]: {exc}") from None
        except ValueError as exc:  # pydantic's ValidationError
            raise HarmonyDataError(f"messages[{i}]: {_first_line(exc)}") from None
    return Conversation.from_messages(out)


def render_record(
    encoding: "HarmonyEncoding",
    record: Any,
    *,
    shape: str = "auto",
    train_on: str = "last_turn",
    config: Optional[RenderConversationConfig] = None,
) -> tuple[list[int], list[int]]:
    """``(input_ids, loss_mask)`` of one record."""
    convo = conversation_from_record(record, shape)
    return encoding.render_conversation_for_training_with_mask(convo, config, train_on=train_on)  # type: ignore[arg-type]


def render_batch(
    batch: Mapping[str, Any],
    *,
    encoding: Optional["HarmonyEncoding"] = None,
    shape: str = "auto",
    train_on: str = "last_turn",
    config: Optional[RenderConversationConfig] = None,
) -> dict[str, list[list[int]]]:
    """Map a batch of columns to ``input_ids`` and ``loss_mask`` columns.

    The batch holds either a ``messages`` column (and, for chat, optional
    ``tools`` and settings columns), or a ``text`` column with one JSON record
    per row (a JSON Lines file read as text, which keeps every record exactly
    as written). Columnar stores (Arrow, and so ``datasets`` and Ray) fill keys
    a row lacks with null, so null-valued keys of a ``messages`` row are
    dropped before reading. A bad row raises ``HarmonyError`` naming its index
    in the batch.
    """
    if encoding is None:
        from harmony_grammar.engine.encoding import load_harmony_encoding

        encoding = load_harmony_encoding("HarmonyGptOss")
    columns = {str(name): _plain(batch[name]) for name in batch}
    if "messages" in columns:
        rows = [_without_nulls({name: values[row] for name, values in columns.items()})
                for row in range(len(columns["messages"]))]
    elif "text" in columns:
        rows = columns["text"]
    else:
        raise HarmonyError(f"batch: no 'messages' or 'text' column (columns: {', '.join(columns) or 'none'})")
    out: dict[str, list[list[int]]] = {"input_ids": [], "loss_mask": []}
    for row, record in enumerate(rows):
        try:
            tokens, mask = render_record(encoding, record, shape=shape, train_on=train_on, config=config)
        except HarmonyError as exc:
            raise HarmonyError(f"batch row {row}: {exc}") from None
        out["input_ids"].append(tokens)
        out["loss_mask"].append(mask)
    return out


def _plain(value: Any) -> Any:
    """Lists and dicts from what a columnar engine hands over (NumPy arrays, pandas Series)."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _json_text(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise HarmonyError(f"{key}: a string here must be JSON text: {exc}") from None
    except RecursionError:
        raise HarmonyError(f"{key}: JSON nested too deeply") from None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
