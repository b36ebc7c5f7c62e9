"""Loss masks: which rendered tokens the model itself would have written.

The mask is 1 on what the model emits in an assistant turn: everything after
the ``<|start|>assistant`` that opens the turn (the rest of the header,
``<|message|>``, the content and the terminator) and 0 elsewhere. ``train_on``
chooses the assistant messages: ``"last_turn"`` (those after the last message
from anyone else) or ``"all_assistant"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional, Sequence

from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import Message, RenderConversationConfig, Role

if TYPE_CHECKING:
    from harmony_grammar.engine.render import Renderer

__all__ = ["TRAIN_ON", "render_with_mask", "trained_messages"]

TRAIN_ON = ("last_turn", "all_assistant")


def trained_messages(messages: Sequence[Message], train_on: str, role: Role = Role.ASSISTANT) -> set[int]:
    """The indices of the messages whose tokens are trained on."""
    if train_on not in TRAIN_ON:
        raise HarmonyError(f"train_on: expected one of {', '.join(TRAIN_ON)}, found {train_on!r}")
    ours = [i for i, m in enumerate(messages) if m.author.role == role]
    if train_on == "all_assistant":
        return set(ours)
    last_other = max((i for i, m in enumerate(messages) if m.author.role != role), default=-1)
    return {i for i in ours if i > last_other}


def render_with_mask(
    renderer: "Renderer",
    messages: Iterable[Message],
    config: Optional[RenderConversationConfig],
    train_on: str,
    role: Role = Role.ASSISTANT,
) -> tuple[list[int], list[int]]:
    """``render_conversation_for_training`` and its loss mask, token for token."""
    seq = list(messages)
    trained = trained_messages(seq, train_on, role)
    spans: list[tuple[int, int, int]] = []
    tokens = renderer.render_for_training(seq, config, spans)
    mask = [0] * len(tokens)
    opening = renderer.next_turn(role)
    for index, start, end in spans:
        if index in trained:
            # The prompt opens the turn; the model writes the rest. A header that does not begin
            # with the usual opening (an author name, a custom template) is trained after <|start|>.
            skip = len(opening) if tokens[start:start + len(opening)] == opening else 1
            mask[start + skip:end] = [1] * (end - start - skip)
    return tokens, mask
