"""Loss masks: hand-checked spans for each message shape, and a round trip through the parser."""

from __future__ import annotations

import random

import pytest

import generators as g
from harmony_grammar import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyError,
    Message,
    RenderConversationConfig,
    Role,
    SystemContent,
    TextContent,
    conversation_from_chat,
)
from harmony_grammar.integrations.training import highlight

KEEP = RenderConversationConfig(auto_drop_analysis=False)


def user(text: str) -> Message:
    return Message.from_role_and_content(Role.USER, text)


def asst(channel: str, text: str, recipient: str | None = None) -> Message:
    m = Message.from_role_and_content(Role.ASSISTANT, text).with_channel(channel)
    if recipient:
        m = m.with_recipient(recipient).with_content_type("<|constrain|>json")
    return m


def tool(text: str) -> Message:
    return Message(author=Author(role=Role.TOOL, name="functions.f"), content=[TextContent(text=text)],
                   channel="commentary", recipient="assistant")


def picture(enc, messages, config=None, train_on="last_turn") -> str:
    tokens, mask = enc.render_conversation_for_training_with_mask(Conversation.from_messages(messages), config,
                                                                   train_on=train_on)
    assert tokens == enc.render_conversation_for_training(Conversation.from_messages(messages), config)
    assert len(mask) == len(tokens) and set(mask) <= {0, 1}
    return highlight(enc, tokens, mask)


def test_exact_mask_of_a_final_answer(enc):
    convo = Conversation.from_messages([user("2+2?"), asst("final", "4")])
    tokens, mask = enc.render_conversation_for_training_with_mask(convo)
    # <|start|>user<|message|>2+2?<|end|> <|start|>assistant | <|channel|>final<|message|>4<|return|>
    assert tokens == [200006, 1428, 200008, 17, 10, 17, 30, 200007, 200006, 173781,
                      200005, 17196, 200008, 19, 200002]
    assert mask == [0] * 10 + [1] * 5


def test_system_and_developer_are_never_trained(enc):
    messages = [Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_knowledge_cutoff("x")),
                Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("Be brief.")),
                user("Hi"), asst("final", "Hello")]
    assert picture(enc, messages, train_on="all_assistant").endswith(
        "Be brief.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"
        "[[<|channel|>final<|message|>Hello<|return|>]]")
    assert picture(enc, messages).count("[[") == 1


def test_analysis_is_dropped_by_default_and_trained_when_kept(enc):
    messages = [user("Q"), asst("analysis", "think"), asst("final", "A")]
    assert picture(enc, messages) == (
        "<|start|>user<|message|>Q<|end|><|start|>assistant[[<|channel|>final<|message|>A<|return|>]]")
    assert picture(enc, messages, KEEP) == (
        "<|start|>user<|message|>Q<|end|>"
        "<|start|>assistant[[<|channel|>analysis<|message|>think<|end|>]]"
        "<|start|>assistant[[<|channel|>final<|message|>A<|return|>]]")


def test_tool_calls_and_results(enc):
    messages = [user("Q"), asst("analysis", "call f"), asst("commentary", "pre"),
                asst("commentary", '{"a":1}', "functions.f"), tool("42"), asst("final", "It is 42.")]
    last = picture(enc, messages, KEEP)
    everything = picture(enc, messages, KEEP, train_on="all_assistant")
    assert last == (
        "<|start|>user<|message|>Q<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>call f<|end|>"
        "<|start|>assistant<|channel|>commentary<|message|>pre<|end|>"
        '<|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a":1}<|call|>'
        "<|start|>functions.f<|channel|>commentary to=assistant<|message|>42<|end|>"
        "<|start|>assistant[[<|channel|>final<|message|>It is 42.<|return|>]]")
    assert everything == (
        "<|start|>user<|message|>Q<|end|>"
        "<|start|>assistant[[<|channel|>analysis<|message|>call f<|end|>]]"
        "<|start|>assistant[[<|channel|>commentary<|message|>pre<|end|>]]"
        '<|start|>assistant[[<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a":1}<|call|>]]'
        "<|start|>functions.f<|channel|>commentary to=assistant<|message|>42<|end|>"
        "<|start|>assistant[[<|channel|>final<|message|>It is 42.<|return|>]]")


def test_a_conversation_ending_with_a_call_trains_the_call(enc):
    messages = [user("Q"), asst("commentary", "{}", "functions.f")]
    assert picture(enc, messages) == (
        "<|start|>user<|message|>Q<|end|>"
        "<|start|>assistant[[<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>]]")


def test_nothing_is_trained_after_a_user_message(enc):
    messages = [user("Q"), asst("final", "A"), user("more?")]
    assert "[[" not in picture(enc, messages)
    assert picture(enc, messages, train_on="all_assistant") == (
        "<|start|>user<|message|>Q<|end|><|start|>assistant[[<|channel|>final<|message|>A<|end|>]]"
        "<|start|>user<|message|>more?<|end|>")


def test_every_earlier_turn_with_all_assistant(enc):
    messages = [user("1"), asst("final", "a"), user("2"), asst("final", "b")]
    assert picture(enc, messages, KEEP, train_on="all_assistant").count("[[") == 2
    assert picture(enc, messages, KEEP).count("[[") == 1


def test_unknown_train_on():
    from harmony_grammar import load_harmony_encoding

    enc = load_harmony_encoding("HarmonyGptOss")
    with pytest.raises(HarmonyError, match=r"^train_on: expected one of last_turn, all_assistant, found 'all'$"):
        enc.render_conversation_for_training_with_mask(Conversation.from_messages([user("x")]), train_on="all")


def test_highlight_refuses_a_mask_of_another_length(enc):
    with pytest.raises(HarmonyError, match=r"^mask: 1 values for 2 tokens$"):
        highlight(enc, [1, 2], [0])


@pytest.mark.parametrize("seed", range(150))
def test_masked_spans_parse_back_to_the_trained_messages(seed, enc):
    """Render with a mask, cut out each trained span, parse it after <|start|>assistant: the assistant messages."""
    rng = random.Random(seed)
    convo = conversation_from_chat(g.chat_messages(rng))
    tokens, mask = enc.render_conversation_for_training_with_mask(convo, KEEP, train_on="all_assistant")
    spans, start = [], None
    for i, bit in enumerate(mask + [0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            spans.append(tokens[start:i])
            start = None
    parsed = [m for span in spans for m in enc.parse_messages_from_completion_tokens(span, Role.ASSISTANT)]
    assistant = [m for m in convo.messages if m.author.role == Role.ASSISTANT]
    assert parsed == assistant
    assert all(tokens[i - 2:i] == [200006, 173781] for i in range(1, len(mask)) if mask[i] and not mask[i - 1])
