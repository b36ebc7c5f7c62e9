"""The example conversation, read from ``examples/conversation.json``: the CLI's built-in example."""

from __future__ import annotations

from harmony_grammar.model import Conversation
from harmony_grammar.resources import data_dir

__all__ = ["example_conversation"]


def example_conversation() -> Conversation:
    """The conversation in ``examples/conversation.json``, a fresh copy on every call.

    >>> convo = example_conversation()
    >>> [(m.author.role.value, m.channel) for m in convo.messages][2:5]
    [('user', None), ('assistant', 'analysis'), ('assistant', 'commentary')]
    >>> convo.messages[2].content[0].text
    'What is the weather like in SF?'
    >>> example_conversation() == convo and example_conversation() is not convo
    True
    """
    path = data_dir("examples") / "conversation.json"
    return Conversation.from_json(path.read_text(encoding="utf-8"))
