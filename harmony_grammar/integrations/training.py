"""A picture of a loss mask, for looking at training data (the masks come from ``harmony_grammar.engine.mask``).

    >>> from harmony_grammar import load_harmony_encoding, Conversation, Message, Role
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> convo = Conversation.from_messages([
    ...     Message.from_role_and_content(Role.USER, "2+2?"),
    ...     Message.from_role_and_content(Role.ASSISTANT, "4").with_channel("final")])
    >>> tokens, mask = enc.render_conversation_for_training_with_mask(convo)
    >>> print(highlight(enc, tokens, mask))
    <|start|>user<|message|>2+2?<|end|><|start|>assistant[[<|channel|>final<|message|>4<|return|>]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from harmony_grammar.errors import HarmonyError

if TYPE_CHECKING:
    from harmony_grammar.engine.encoding import HarmonyEncoding

__all__ = ["highlight"]


def highlight(encoding: "HarmonyEncoding", tokens: Sequence[int], mask: Sequence[int],
              marks: tuple[str, str] = ("[[", "]]")) -> str:
    """The decoded tokens with each trained span between ``marks``: a picture of a loss mask."""
    if len(tokens) != len(mask):
        raise HarmonyError(f"mask: {len(mask)} values for {len(tokens)} tokens")
    out: list[str] = []
    start = 0
    for i in range(1, len(tokens) + 1):
        if i == len(tokens) or mask[i] != mask[start]:
            text = encoding.decode_utf8(list(tokens[start:i]))
            out.append(f"{marks[0]}{text}{marks[1]}" if mask[start] else text)
            start = i
    return "".join(out)
