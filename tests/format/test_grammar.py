"""The message grammar bound to token ids (harmony_grammar.format.grammar): terminals, trees and syntax errors.

The reference has no grammar object; what is checked against it (oss-harmony
0.0.11) is that every input rejected here is rejected by its
``parse_messages_from_completion_tokens`` too, with the message noted beside
each case, and that the accepted inputs parse there.
"""

from __future__ import annotations

import pytest
from lark import Token, Tree
from lark.exceptions import UnexpectedEOF, UnexpectedToken

from harmony_grammar import HarmonyError
from harmony_grammar.format.grammar import MAX_TOKEN_ID, START_SYMBOLS, load_grammar


@pytest.fixture(scope="module")
def g(enc):
    return load_grammar(enc.tokenizer)


def E(enc, text):
    return enc.encode(text, allowed_special="all")


def terms(g, tokens):
    return [(t.type, t.start_pos, t.end_pos, t.value) for t in g.terminals(tokens)]


def shape(node):
    """A tree as plain data: (rule, [children]) with terminals as (type, start, end)."""
    if isinstance(node, Tree):
        return (str(node.data), [shape(c) for c in node.children])
    return (node.type, node.start_pos, node.end_pos)


# -- constants and the compiled grammar ---------------------------------------------------------


def test_constants(g):
    assert START_SYMBOLS[:4] == ("conversation", "completion", "conversation_tolerant", "completion_tolerant")
    assert MAX_TOKEN_ID == 4294967295
    assert (g.special_first, g.special_last) == (199998, 201088)


def test_start_symbol(g):
    assert g.start_symbol(completion=False, strict=True) == "conversation"
    assert g.start_symbol(completion=True, strict=True) == "completion"
    assert g.start_symbol(completion=False, strict=False) == "conversation_tolerant"
    assert g.start_symbol(completion=True, strict=False) == "completion_tolerant"


def test_load_grammar_is_cached(enc, g):
    assert load_grammar(enc.tokenizer) is g
    assert load_grammar() is g


def test_terminal_table(g):
    assert g.terminal_of == {200002: "RETURN", 200003: "CONSTRAIN", 200005: "CHANNEL", 200006: "START",
                             200007: "END", 200008: "MESSAGE", 200012: "CALL"}
    assert [g.describe(t) for t in ("START", "END", "TEXT", "SPECIAL", "$END")] == [
        "<|start|>", "<|end|>", "text", "a reserved special token", "the end of the input"]


# -- terminals() ------------------------------------------------------------------------------


def test_terminals_each_special_its_own_terminal(enc, g):
    tokens = E(enc, "<|start|>assistant<|channel|>commentary to=f <|constrain|>json<|message|>{}<|call|>"
                    "<|start|>a<|message|>b<|return|><|end|>")
    assert tokens == [200006, 173781, 200005, 12606, 815, 316, 40464, 220, 200003, 4108, 200008, 12083, 200012,
                      200006, 64, 200008, 65, 200002, 200007]
    assert terms(g, tokens) == [
        ("START", 0, 1, "<|start|>"), ("TEXT", 1, 2, ""), ("CHANNEL", 2, 3, "<|channel|>"),
        ("TEXT", 3, 8, ""), ("CONSTRAIN", 8, 9, "<|constrain|>"), ("TEXT", 9, 10, ""),
        ("MESSAGE", 10, 11, "<|message|>"), ("TEXT", 11, 12, ""), ("CALL", 12, 13, "<|call|>"),
        ("START", 13, 14, "<|start|>"), ("TEXT", 14, 15, ""), ("MESSAGE", 15, 16, "<|message|>"),
        ("TEXT", 16, 17, ""), ("RETURN", 17, 18, "<|return|>"), ("END", 18, 19, "<|end|>"),
    ]


def test_terminals_run_of_ordinary_tokens_is_one_text(g):
    assert terms(g, [1, 2, 3, 4, 5]) == [("TEXT", 0, 5, "")]
    assert terms(g, [200006, 1, 2, 3]) == [("START", 0, 1, "<|start|>"), ("TEXT", 1, 4, "")]
    assert terms(g, [1, 2, 200007]) == [("TEXT", 0, 2, ""), ("END", 2, 3, "<|end|>")]


def test_terminals_reserved_and_other_specials_are_special(g):
    assert terms(g, [199998, 12194, 199999, 200000, 201088, 200004, 200013]) == [
        ("SPECIAL", 0, 1, "<|startoftext|>"), ("TEXT", 1, 2, ""), ("SPECIAL", 2, 3, "<|endoftext|>"),
        ("SPECIAL", 3, 4, "<|reserved_200000|>"), ("SPECIAL", 4, 5, "<|reserved_201088|>"),
        ("SPECIAL", 5, 6, "<|reserved_200004|>"), ("SPECIAL", 6, 7, "<|reserved_200013|>"),
    ]


def test_terminals_out_of_vocabulary_ids_are_text(g):
    assert terms(g, [1, 2, 201089, 3, MAX_TOKEN_ID]) == [("TEXT", 0, 5, "")]
    assert terms(g, [200006, 1428, 200008, 87, 201089, MAX_TOKEN_ID, 200007]) == [
        ("START", 0, 1, "<|start|>"), ("TEXT", 1, 2, ""), ("MESSAGE", 2, 3, "<|message|>"),
        ("TEXT", 3, 6, ""), ("END", 6, 7, "<|end|>")]
    assert terms(g, [200007, 201089]) == [("END", 0, 1, "<|end|>"), ("TEXT", 1, 2, "")]


def test_terminals_of_nothing(g):
    assert terms(g, []) == []


# -- parse trees --------------------------------------------------------------------------------


def test_conversation_tree(enc, g):
    tokens = E(enc, "<|start|>assistant<|channel|>final<|message|>Hi there<|end|><|start|>user<|message|>x")
    assert tokens == [200006, 173781, 200005, 17196, 200008, 12194, 1354, 200007, 200006, 1428, 200008, 87]
    assert shape(g.parse(tokens, "conversation")) == ("conversation", [
        ("message", [("START", 0, 1), ("header", [("TEXT", 1, 2), ("CHANNEL", 2, 3), ("TEXT", 3, 4)]),
                     ("MESSAGE", 4, 5), ("content", [("TEXT", 5, 7)]), ("stop", [("END", 7, 8)])]),
        ("partial", [("START", 8, 9), ("header", [("TEXT", 9, 10)]), ("MESSAGE", 10, 11),
                     ("content", [("TEXT", 11, 12)])]),
    ])


def test_empty_conversation_tree(g):
    assert shape(g.parse([], "conversation")) == ("conversation", [])
    assert shape(g.parse([], "conversation_tolerant")) == ("conversation_tolerant", [])


def test_strict_header_may_hold_stop_tokens(enc, g):
    tokens = E(enc, "<|start|>user<|end|><|message|>x<|end|>")
    assert shape(g.parse(tokens, "conversation")) == ("conversation", [
        ("message", [("START", 0, 1), ("header", [("TEXT", 1, 2), ("END", 2, 3)]), ("MESSAGE", 3, 4),
                     ("content", [("TEXT", 4, 5)]), ("stop", [("END", 5, 6)])]),
    ])


def test_content_holds_structure_tokens(enc, g):
    tokens = E(enc, "<|start|>user<|message|>a<|start|>b<|message|>c<|channel|>d<|constrain|><|endoftext|><|end|>")
    assert shape(g.parse(tokens, "conversation")) == ("conversation", [
        ("message", [("START", 0, 1), ("header", [("TEXT", 1, 2)]), ("MESSAGE", 2, 3),
                     ("content", [("TEXT", 3, 4), ("START", 4, 5), ("TEXT", 5, 6), ("MESSAGE", 6, 7),
                                  ("TEXT", 7, 8), ("CHANNEL", 8, 9), ("TEXT", 9, 10), ("CONSTRAIN", 10, 11),
                                  ("SPECIAL", 11, 12)]),
                     ("stop", [("END", 12, 13)])]),
    ])


def test_completion_tree(enc, g):
    tokens = E(enc, "<|channel|>final<|message|>Hi<|call|><|start|>user<|message|>x<|end|>")
    assert tokens == [200005, 17196, 200008, 12194, 200012, 200006, 1428, 200008, 87, 200007]
    assert shape(g.parse(tokens, "completion")) == ("completion", [
        ("first", [("header", [("CHANNEL", 0, 1), ("TEXT", 1, 2)]), ("MESSAGE", 2, 3),
                   ("content", [("TEXT", 3, 4)]), ("stop", [("CALL", 4, 5)])]),
        ("message", [("START", 5, 6), ("header", [("TEXT", 6, 7)]), ("MESSAGE", 7, 8),
                     ("content", [("TEXT", 8, 9)]), ("stop", [("END", 9, 10)])]),
    ])


def test_completion_partial_trees(g):
    assert shape(g.parse([200008], "completion")) == ("completion", [
        ("first_partial", [("header", []), ("MESSAGE", 0, 1), ("content", [])])])
    assert shape(g.parse([200008, 87], "completion_tolerant")) == ("completion_tolerant", [
        ("first_partial_t", [("header_t", []), ("MESSAGE", 0, 1), ("content", [("TEXT", 1, 2)])])])


def test_completion_tolerant_tree(enc, g):
    tokens = E(enc, "<|channel|>final<|end|><|start|>user<|return|><|start|>user<|message|>x")
    assert tokens == [200005, 17196, 200007, 200006, 1428, 200002, 200006, 1428, 200008, 87]
    assert shape(g.parse(tokens, "completion_tolerant")) == ("completion_tolerant", [
        ("first_broken", [("header_t", [("CHANNEL", 0, 1), ("TEXT", 1, 2)]), ("stop", [("END", 2, 3)])]),
        ("broken", [("START", 3, 4), ("header_t", [("TEXT", 4, 5)]), ("stop", [("RETURN", 5, 6)])]),
        ("partial_t", [("START", 6, 7), ("header_t", [("TEXT", 7, 8)]), ("MESSAGE", 8, 9),
                       ("content", [("TEXT", 9, 10)])]),
    ])


def test_completion_tolerant_first_message_whole(g):
    assert shape(g.parse([200005, 17196, 200008, 87, 200007], "completion_tolerant")) == ("completion_tolerant", [
        ("first_t", [("header_t", [("CHANNEL", 0, 1), ("TEXT", 1, 2)]), ("MESSAGE", 2, 3),
                     ("content", [("TEXT", 3, 4)]), ("stop", [("END", 4, 5)])])])


def test_conversation_tolerant_tree(enc, g):
    tokens = E(enc, "<|start|>user<|end|><|start|>user<|message|>x<|end|>")
    assert tokens == [200006, 1428, 200007, 200006, 1428, 200008, 87, 200007]
    assert shape(g.parse(tokens, "conversation_tolerant")) == ("conversation_tolerant", [
        ("broken", [("START", 0, 1), ("header_t", [("TEXT", 1, 2)]), ("stop", [("END", 2, 3)])]),
        ("message_t", [("START", 3, 4), ("header_t", [("TEXT", 4, 5)]), ("MESSAGE", 5, 6),
                       ("content", [("TEXT", 6, 7)]), ("stop", [("END", 7, 8)])]),
    ])


def test_tolerant_and_strict_agree_on_well_formed_input(enc, g):
    tokens = E(enc, "<|start|>user<|message|>q<|end|><|start|>assistant<|channel|>final<|message|>a<|return|>")
    strict = shape(g.parse(tokens, "conversation"))
    tolerant = shape(g.parse(tokens, "conversation_tolerant"))
    rename = {"message": "message_t", "header": "header_t"}

    def tolerant_names(node):
        if isinstance(node[1], list):
            return (rename.get(node[0], node[0]), [tolerant_names(c) for c in node[1]])
        return node

    assert tolerant == ("conversation_tolerant", [tolerant_names(c) for c in strict[1]])


# -- syntax errors ------------------------------------------------------------------------------

# (text, start symbol, our error message: the reference's, then where, in parentheses; the reference's message
#  for the same tokens parsed with role None (conversation*) or role assistant (completion*), strict unless *_tolerant)
SYNTAX_ERRORS = [
    ("hi<|start|>user<|message|>x<|end|>", "conversation",
     "Unexpected token 3686 while expecting start token 200006 (token 0: expected <|start|>, found text)",
     "Unexpected token 3686 while expecting start token 200006"),
    ("<|start|>user<|message|>x<|end|><|end|>", "conversation",
     "Unexpected token 200007 while expecting start token 200006 (token 5: expected <|start|>, found <|end|>)",
     "Unexpected token 200007 while expecting start token 200006"),
    ("<|start|>user<|message|>x<|end|><|reserved_200013|>", "conversation",
     "Unexpected token 200013 while expecting start token 200006 (token 5: expected <|start|>, found <|reserved_200013|>)",
     "Unexpected token 200013 while expecting start token 200006"),
    ("<|start|>user<|message|>x<|end|><|endoftext|>", "conversation",
     "Unexpected token 199999 while expecting start token 200006 (token 5: expected <|start|>, found <|endoftext|>)",
     "Unexpected token 199999 while expecting start token 200006"),
    ("<|start|>user<|message|>x<|end|><|message|>", "conversation",
     "Unexpected token 200008 while expecting start token 200006 (token 5: expected <|start|>, found <|message|>)",
     "Unexpected token 200008 while expecting start token 200006"),
    ("<|start|>user<|message|>x<|end|><|channel|>", "conversation",
     "Unexpected token 200005 while expecting start token 200006 (token 5: expected <|start|>, found <|channel|>)",
     "Unexpected token 200005 while expecting start token 200006"),
    ("<|start|>user", "conversation",
     "Unexpected EOS while waiting for message header to complete (token 2: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
    ("<|start|>", "conversation",
     "Unexpected EOS while waiting for message header to complete (token 1: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
    ("<|start|>user<|end|>", "conversation",
     "Unexpected EOS while waiting for message header to complete (token 3: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
    ("<|start|>user<|end|><|message|>x<|end|>", "conversation_tolerant",
     "Unexpected token 200008 while expecting start token 200006 (token 3: expected <|start|>, found <|message|>)",
     "Unexpected token 200008 while expecting start token 200006"),
    ("", "completion",
     "Unexpected EOS while waiting for message header to complete (token 0: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
    ("user", "completion",
     "Unexpected EOS while waiting for message header to complete (token 1: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
    ("<|message|>x<|end|>hi", "completion",
     "Unexpected token 3686 while expecting start token 200006 (token 3: expected <|start|>, found text)",
     "Unexpected token 3686 while expecting start token 200006"),
    ("<|channel|>final<|call|>x", "completion_tolerant",
     "Unexpected token 87 while expecting start token 200006 (token 3: expected <|start|>, found text)",
     "Unexpected token 87 while expecting start token 200006"),
    ("<|channel|>final<|call|><|message|>", "completion_tolerant",
     "Unexpected token 200008 while expecting start token 200006 (token 3: expected <|start|>, found <|message|>)",
     "Unexpected token 200008 while expecting start token 200006"),
    ("<|channel|>final", "completion_tolerant",
     "Unexpected EOS while waiting for message header to complete (token 2: expected <|message|>, "
     "found the end of the input)",
     "Unexpected EOS while waiting for message header to complete"),
]


@pytest.mark.parametrize("text, start, message, ref_message", SYNTAX_ERRORS)
def test_syntax_errors(enc, g, text, start, message, ref_message):
    with pytest.raises(HarmonyError) as info:
        g.parse(E(enc, text), start)
    assert str(info.value) == message
    assert message.startswith(ref_message)


def test_out_of_vocabulary_id_between_messages_is_text(g):
    with pytest.raises(HarmonyError) as info:
        g.parse([200006, 1428, 200008, 87, 200007, 201089], "conversation")
    assert str(info.value) == ("Unexpected token 201089 while expecting start token 200006 "
                               "(token 5: expected <|start|>, found an id outside the vocabulary)")


def test_syntax_errors_the_reference_has_no_words_for_keep_ours(g):
    # Feeding tokens reaches only the two errors above (a token where <|start|> is due, the end of the
    # input inside a header); any other expectation is said in our words alone.
    exc = UnexpectedToken(Token("END", "<|end|>", start_pos=2, end_pos=3), {"TEXT", "CHANNEL"})
    assert str(g.syntax_error(exc, [1, 2, 200007])) == "token 2: expected <|channel|> or text, found <|end|> (id 200007)"
    assert str(g.syntax_error(UnexpectedEOF({"START"}), [1, 2])) == \
        "token 2: expected <|start|>, found the end of the input"


def test_syntax_errors_are_errors_in_the_reference(oss_oracle, enc):
    cases = [{"op": "parse", "tokens": E(enc, text),
              "role": "assistant" if start.startswith("completion") else None,
              "strict": not start.endswith("_tolerant")} for text, start, _, _ in SYNTAX_ERRORS]
    assert oss_oracle(cases) == [{"error": "HarmonyError", "message": ref} for *_, ref in SYNTAX_ERRORS]


# Inputs the grammar accepts (and the reference parses): the start symbol and the reference's messages.
ACCEPTED = [
    ("<|start|>user<|end|>", "conversation_tolerant", []),
    ("<|channel|>final<|call|>", "completion_tolerant",
     [{"role": "assistant", "name": None, "content": [{"type": "text", "text": ""}], "channel": "final"}]),
    ("<|message|>", "completion", [{"role": "assistant", "name": None, "content": [{"type": "text", "text": ""}]}]),
    ("", "conversation", []),
]


@pytest.mark.parametrize("text, start, messages", ACCEPTED)
def test_accepted_inputs_parse(enc, g, text, start, messages):
    tokens = E(enc, text)
    assert isinstance(g.parse(tokens, start), Tree)
    role = "assistant" if start.startswith("completion") else None
    got = enc.parse_messages_from_completion_tokens(tokens, role, strict=not start.endswith("_tolerant"))
    assert [m.to_dict() for m in got] == messages
