"""The TypeScript-like declarations of tool parameters, one JSON-Schema construct per test.

Every expected text below is what oss-harmony 0.0.11 renders for the same
tools (obtained by running the reference and pasting its output), quirks
included. Tools are rendered through the public API: a developer message
carrying ``DeveloperContent.with_function_tools`` (or ``with_tools`` for other
namespaces), decoded with ``decode_utf8``.
"""

from __future__ import annotations

from harmony_grammar import DeveloperContent, Message, Role, ToolDescription, ToolNamespaceConfig

FUNCTIONS_HEAD = "<|start|>developer<|message|># Tools\n\n## functions\n\nnamespace functions {\n\n"
FUNCTIONS_TAIL = "\n\n} // namespace functions<|end|>"


def functions_block(body: str) -> str:
    """The whole developer message around the tool declarations ``body``."""
    return FUNCTIONS_HEAD + body + FUNCTIONS_TAIL


def render_function_tools(enc, tools: list[ToolDescription]) -> str:
    message = Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_function_tools(tools))
    return enc.decode_utf8(enc.render(message))


def render_namespaces(enc, namespaces: list[ToolNamespaceConfig]) -> str:
    content = DeveloperContent.new()
    for space in namespaces:
        content = content.with_tools(space)
    return enc.decode_utf8(enc.render(Message.from_role_and_content(Role.DEVELOPER, content)))


def test_oneof_property_desc_dedup_first_variant(enc):
    """A property description equal to the first variant's is printed nowhere: not above the property, not on the variant."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "description": "A or B",
                        "oneOf": [
                            {"type": "string", "description": "A or B"},
                            {"type": "number", "description": "a number"},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?:\n"
        " | string\n"
        " | number // a number\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_desc_differs_from_first_variant(enc):
    """A property description different from the first variant's goes above the property; variants repeating it lose their comment."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "description": "outer",
                        "oneOf": [
                            {"type": "string", "description": "inner"},
                            {"type": "number", "description": "outer"},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// outer\n"
        "v?:\n"
        " | string\n"
        " | number\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_no_desc(enc):
    """Without a property description every variant keeps its own; a required oneOf property has no '?'."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "oneOf": [{"type": "string", "description": "first"}, {"type": "boolean"}],
                    },
                },
                "required": ["v"],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v:\n"
        " | string // first\n"
        " | boolean\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_variant_defaults(enc):
    """Variant defaults of each kind: strings quoted, enum strings bare, everything else as compact JSON."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "oneOf": [
                            {"type": "string", "default": "s"},
                            {"type": "string", "enum": ["a", "b"], "default": "a"},
                            {"type": "number", "default": 1.5},
                            {"type": "integer", "default": 7},
                            {"type": "boolean", "default": False},
                            {"type": "null", "default": None},
                            {"type": "array", "items": {"type": "string"}, "default": ["x", 1]},
                            {"type": "object", "default": {"k": "v"}, "description": "an object"},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?:\n"
        ' | string // default: "s"\n'
        ' | "a" | "b" // default: a\n'
        " | number // default: 1.5\n"
        " | number // default: 7\n"
        " | boolean // default: false\n"
        " | any // default: null\n"
        ' | string[] // default: ["x",1]\n'
        " |    // an object\n"
        "{\n"
        '   } // an object default: {"k":"v"}\n'
        ",\n"
        "}) => any;"
    )


def test_oneof_property_default_kinds(enc):
    """A oneOf property's own default goes on a '// default:' line above it."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "s": {"oneOf": [{"type": "string"}, {"type": "number"}], "default": "text"},
                    "n": {"oneOf": [{"type": "string"}, {"type": "number"}], "default": 1e+16},
                    "e": {"oneOf": [{"type": "string"}], "enum": ["p", "q"], "default": "p"},
                    "z": {"oneOf": [{"type": "string"}], "default": None},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        '// default: "text"\n'
        "s?:\n"
        " | string\n"
        " | number\n"
        ",\n"
        "// default: 1e+16\n"
        "n?:\n"
        " | string\n"
        " | number\n"
        ",\n"
        "// default: p\n"
        "e?:\n"
        " | string\n"
        ",\n"
        "// default: null\n"
        "z?:\n"
        " | string\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_nullable_variant(enc):
    """A nullable variant gains ' | null' unless its type already says null."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "oneOf": [
                            {"type": "string", "nullable": True},
                            {"type": ["number", "null"], "nullable": True},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?:\n"
        " | string | null\n"
        " | number | null\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_nested_object_variant(enc):
    """An object variant is indented three spaces past the bar."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {"a": {"type": "string"}},
                                "required": ["a"],
                            },
                            {"type": "number"},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?:\n"
        " | {\n"
        "   a: string,\n"
        "   }\n"
        " | number\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_property_empty(enc):
    """An empty oneOf keeps the property header and the closing comma."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"oneOf": [], "description": "nothing"}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// nothing\n"
        "v?:\n"
        ",\n"
        "}) => any;"
    )


def test_oneof_top_level(enc):
    """oneOf as the whole parameter schema: one variant per line, comments from description and default (enum strings as JSON here)."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                        "description": "by city",
                    },
                    {
                        "type": "object",
                        "properties": {"lat": {"type": "number"}},
                        "default": {"lat": 0},
                    },
                    {
                        "type": "string",
                        "enum": ["here", "there"],
                        "default": "here",
                        "description": "a place",
                    },
                    {"type": "string", "default": "plain"},
                ],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: \n"
        " |    // by city\n"
        "{\n"
        "   city: string,\n"
        "   } // by city\n"
        " | {\n"
        "   lat?: number,\n"
        '   } // default: {"lat":0}\n'
        ' | "here" | "there" // a place default: "here"\n'
        ' | string // default: "plain") => any;'
    )


def test_oneof_top_level_nullable(enc):
    """A nullable top-level variant."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "oneOf": [
                    {"type": "string", "nullable": True, "description": "maybe"},
                    {"type": "integer"},
                ],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: \n"
        " | string | null // maybe\n"
        " | number) => any;"
    )


def test_type_list_string_null(enc):
    """A list of types is joined with ' | '."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": ["string", "null"]}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string | null,\n"
        "}) => any;"
    )


def test_type_list_integer_number_boolean(enc):
    """integer in a type list prints as number, duplicates kept."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": ["integer", "number", "boolean"]}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: number | number | boolean,\n"
        "}) => any;"
    )


def test_type_list_with_non_strings(enc):
    """Non-string entries of a type list are skipped."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": [3, "string", None, "object"]}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string | object,\n"
        "}) => any;"
    )


def test_type_list_empty(enc):
    """An empty type list is any."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": []}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: any,\n"
        "}) => any;"
    )


def test_type_list_only_non_strings(enc):
    """A type list without strings is any."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": [1, 2]}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: any,\n"
        "}) => any;"
    )


def test_nullable_true(enc):
    """nullable: true adds ' | null' to strings, numbers and objects."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "s": {"type": "string", "nullable": True},
                    "n": {"type": "number", "nullable": True},
                    "o": {"type": "object", "nullable": True},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "s?: string | null,\n"
        "n?: number | null,\n"
        "o?: {\n"
        "    } | null,\n"
        "}) => any;"
    )


def test_nullable_true_already_null(enc):
    """nullable: true adds nothing when the type already includes null."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": ["string", "null"], "nullable": True}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string | null,\n"
        "}) => any;"
    )


def test_nullable_non_bool(enc):
    """Only the boolean true counts as nullable."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "a": {"type": "string", "nullable": "true"},
                    "b": {"type": "string", "nullable": 1},
                    "c": {"type": "string", "nullable": False},
                    "d": {"type": "string", "nullable": None},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: string,\n"
        "b?: string,\n"
        "c?: string,\n"
        "d?: string,\n"
        "}) => any;"
    )


def test_enum_strings(enc):
    """String enums become a union of quoted values, without escaping."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "enum": ["a", "b c", 'with "quote"', "日本"]}},
                "required": ["v"],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v: "a" | "b c" | "with "quote"" | "日本",\n'
        "}) => any;"
    )


def test_enum_mixed(enc):
    """Non-string enum values are skipped."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "enum": ["x", 1, None, True]}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v?: "x",\n'
        "}) => any;"
    )


def test_enum_only_non_strings(enc):
    """An enum without strings falls back to string."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": "string", "enum": [1, 2]}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string,\n"
        "}) => any;"
    )


def test_enum_empty(enc):
    """An empty enum falls back to string."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": "string", "enum": []}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string,\n"
        "}) => any;"
    )


def test_enum_without_type(enc):
    """An enum without a type is any."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"enum": ["a", "b"]}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: any,\n"
        "}) => any;"
    )


def test_enum_on_integer(enc):
    """An enum on a non-string type is ignored; the default is JSON."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "integer", "enum": [1, 2], "default": 1}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: number, // default: 1\n"
        "}) => any;"
    )


def test_default_string_quoted(enc):
    """A string default is wrapped in quotes without escaping."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "default": 'say "hi"\\n'}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v?: string, // default: "say "hi"\\n"\n'
        "}) => any;"
    )


def test_default_enum_string_bare(enc):
    """A string default of an enum is printed bare."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "enum": ["c", "f"], "default": "f"}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v?: "c" | "f", // default: f\n'
        "}) => any;"
    )


def test_default_empty_enum_string_quoted(enc):
    """An empty enum does not make the default bare."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "enum": [], "default": "f"}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v?: string, // default: "f"\n'
        "}) => any;"
    )


def test_default_string_on_non_string_type(enc):
    """A string default is quoted whatever the type."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": "number", "default": "5"}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        'v?: number, // default: "5"\n'
        "}) => any;"
    )


def test_default_numbers(enc):
    """Float defaults print as serde_json does: shortest digits, '.0' for integral values, e+N exponents."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "i": {"type": "integer", "default": 10},
                    "neg": {"type": "integer", "default": -1},
                    "f": {"type": "number", "default": 0.5},
                    "tenth": {"type": "number", "default": 0.1},
                    "one": {"type": "number", "default": 1.0},
                    "negzero": {"type": "number", "default": -0.0},
                    "e16": {"type": "number", "default": 1e+16},
                    "e15": {"type": "number", "default": 1000000000000000.0},
                    "small": {"type": "number", "default": 1.5e-07},
                    "e5": {"type": "number", "default": 1e-05},
                    "e4": {"type": "number", "default": 0.0001},
                    "mixed": {"type": "number", "default": 123456.789},
                    "big": {"type": "number", "default": 1e+300},
                    "e21": {"type": "number", "default": 1e+21},
                    "negsmall": {"type": "number", "default": -2.5e-10},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "i?: number, // default: 10\n"
        "neg?: number, // default: -1\n"
        "f?: number, // default: 0.5\n"
        "tenth?: number, // default: 0.1\n"
        "one?: number, // default: 1.0\n"
        "negzero?: number, // default: -0.0\n"
        "e16?: number, // default: 1e+16\n"
        "e15?: number, // default: 1000000000000000.0\n"
        "small?: number, // default: 1.5e-7\n"
        "e5?: number, // default: 0.00001\n"
        "e4?: number, // default: 0.0001\n"
        "mixed?: number, // default: 123456.789\n"
        "big?: number, // default: 1e+300\n"
        "e21?: number, // default: 1e+21\n"
        "negsmall?: number, // default: -2.5e-10\n"
        "}) => any;"
    )


def test_default_big_ints(enc):
    """Integers within i64/u64 print exactly; larger ones become floats."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "i53": {"type": "integer", "default": 9007199254740992},
                    "i63": {"type": "integer", "default": 9223372036854775807},
                    "u64": {"type": "integer", "default": 18446744073709551615},
                    "i64min": {"type": "integer", "default": -9223372036854775808},
                    "over": {"type": "integer", "default": 1180591620717411303424},
                    "underflow": {"type": "integer", "default": -18446744073709551616},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "i53?: number, // default: 9007199254740992\n"
        "i63?: number, // default: 9223372036854775807\n"
        "u64?: number, // default: 18446744073709551615\n"
        "i64min?: number, // default: -9223372036854775808\n"
        "over?: number, // default: 1.1805916207174113e+21\n"
        "underflow?: number, // default: -1.8446744073709552e+19\n"
        "}) => any;"
    )


def test_default_bool_null_array_object(enc):
    """Booleans, null, arrays and objects print as compact JSON."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "b": {"type": "boolean", "default": True},
                    "n": {"type": "string", "default": None},
                    "a": {"type": "array", "default": [1, "two", None, [3.5], {"k": False}]},
                    "o": {"type": "object", "default": {"x": 1, "y": [True], "z": {"w": "日本\n"}}},
                    "e": {"type": "array", "default": []},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "b?: boolean, // default: true\n"
        "n?: string, // default: null\n"
        'a?: Array<any>, // default: [1,"two",null,[3.5],{"k":false}]\n'
        "o?: {\n"
        '    }, // default: {"x":1,"y":[true],"z":{"w":"日本\\n"}}\n'
        "e?: Array<any>, // default: []\n"
        "}) => any;"
    )


def test_default_with_description(enc):
    """A description goes above the property and the default after it."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "integer", "description": "how many", "default": 3}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// how many\n"
        "v?: number, // default: 3\n"
        "}) => any;"
    )


def test_title(enc):
    """A title is printed above the description, followed by an empty comment line."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {"type": "string", "title": "The V"},
                    "w": {"type": "string", "title": "W", "description": "dub"},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// The V\n"
        "//\n"
        "v?: string,\n"
        "// W\n"
        "//\n"
        "// dub\n"
        "w?: string,\n"
        "}) => any;"
    )


def test_title_non_string(enc):
    """A non-string title is ignored."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"v": {"type": "string", "title": ["t"]}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string,\n"
        "}) => any;"
    )


def test_examples_strings(enc):
    """String examples are listed, quoted, under '// Examples:'."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "examples": ["hello", 'a "b"']}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// Examples:\n"
        '// - "hello"\n'
        '// - "a "b""\n'
        "v?: string,\n"
        "}) => any;"
    )


def test_examples_mixed(enc):
    """Non-string examples are skipped."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "examples": ["x", 1, None, "y"]}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// Examples:\n"
        '// - "x"\n'
        '// - "y"\n'
        "v?: string,\n"
        "}) => any;"
    )


def test_examples_empty_or_not_list(enc):
    """Empty or non-list examples print nothing."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {"type": "string", "examples": []},
                    "w": {"type": "string", "examples": "notalist"},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?: string,\n"
        "w?: string,\n"
        "}) => any;"
    )


def test_nested_objects(enc):
    """Nested objects indent by four spaces per level; an object's description is printed both above its property and before its brace."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "outer": {
                        "type": "object",
                        "properties": {
                            "inner": {
                                "type": "object",
                                "properties": {
                                    "leaf": {
                                        "type": "string",
                                        "description": "a leaf",
                                        "default": "x",
                                    },
                                },
                                "required": ["leaf"],
                                "description": "inner obj",
                            },
                            "n": {"type": "number"},
                        },
                        "description": "outer obj",
                        "required": ["inner"],
                    },
                    "after": {"type": "boolean"},
                },
                "required": ["outer"],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// outer obj\n"
        "outer:     // outer obj\n"
        "{\n"
        "    // inner obj\n"
        "    inner:         // inner obj\n"
        "{\n"
        "        // a leaf\n"
        '        leaf: string, // default: "x"\n'
        "        },\n"
        "    n?: number,\n"
        "    },\n"
        "after?: boolean,\n"
        "}) => any;"
    )


def test_nested_oneof_in_object(enc):
    """A oneOf property inside a nested object is indented with the object."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "o": {
                        "type": "object",
                        "properties": {
                            "v": {
                                "oneOf": [
                                    {"type": "string", "description": "s"},
                                    {"type": "object", "properties": {"deep": {"type": "integer"}}},
                                ],
                                "description": "choice",
                                "default": 1,
                            },
                        },
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "o?: {\n"
        "    // choice\n"
        "    // default: 1\n"
        "    v?:\n"
        "     | string\n"
        "     | {\n"
        "       deep?: number,\n"
        "       }\n"
        "    ,\n"
        "    },\n"
        "}) => any;"
    )


def test_array_items(enc):
    """Arrays with items print as ITEM[]; nested arrays stack."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "a": {"type": "array", "items": {"type": "integer"}},
                    "b": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "string", "enum": ["x"]}},
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: number[],\n"
        'b?: "x"[][],\n'
        "}) => any;"
    )


def test_array_of_objects(enc):
    """An array of objects."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "a": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"k": {"type": "string"}},
                            "required": ["k"],
                        },
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: {\n"
        "    k: string,\n"
        "    }[],\n"
        "}) => any;"
    )


def test_array_without_items(enc):
    """An array without items is Array<any>; null or empty items are any[]."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "a": {"type": "array"},
                    "b": {"type": "array", "items": None},
                    "c": {"type": "array", "items": {}},
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: Array<any>,\n"
        "b?: any[],\n"
        "c?: any[],\n"
        "}) => any;"
    )


def test_object_without_properties(enc):
    """An object without properties is an empty brace pair."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object"},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "}) => any;"
    )


def test_object_empty_properties(enc):
    """An object with empty properties is an empty brace pair."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "}) => any;"
    )


def test_parameters_empty_dict(enc):
    """Empty parameters are any."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: any) => any;"
    )


def test_parameters_not_object_type(enc):
    """Parameters of a non-object type print that type."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "string"},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: string) => any;"
    )


def test_object_described_empty(enc):
    """A top-level object description is printed before the brace."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "description": "nothing here", "properties": {}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: // nothing here\n"
        "{\n"
        "}) => any;"
    )


def test_property_empty_object_and_any(enc):
    """An empty object property, a schema without type and an unknown type."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"o": {"type": "object"}, "any": {}, "weird": {"type": "weird"}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "o?: {\n"
        "    },\n"
        "any?: any,\n"
        "weird?: any,\n"
        "}) => any;"
    )


def test_required_all(enc):
    """Required properties have no '?'."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a: string,\n"
        "b: number,\n"
        "}) => any;"
    )


def test_required_none(enc):
    """An empty required list makes every property optional."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "number"}},
                "required": [],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: string,\n"
        "b?: number,\n"
        "}) => any;"
    )


def test_required_with_non_strings_and_unknown(enc):
    """Non-string and unknown names in required are ignored."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "number"}},
                "required": [5, "b", "zzz"],
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: string,\n"
        "b: number,\n"
        "}) => any;"
    )


def test_required_not_a_list(enc):
    """A required that is not a list is ignored."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={"type": "object", "properties": {"a": {"type": "string"}}, "required": "a"},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "a?: string,\n"
        "}) => any;"
    )


def test_tool_without_parameters(enc):
    """Tools without parameters are '() => any'."""
    tools = [
        ToolDescription.new("ping", "Pings."),
        ToolDescription.new("pong", "Pongs."),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Pings.\n"
        "type ping = () => any;\n"
        "\n"
        "// Pongs.\n"
        "type pong = () => any;"
    )


def test_namespace_description_no_tools(enc):
    """A namespace without tools shows its description as plain lines."""
    namespaces = [
        ToolNamespaceConfig(
            name="notes",
            description="Just notes.\nSecond line.",
            tools=[],
        ),
    ]
    assert render_namespaces(enc, namespaces) == (
        "<|start|>developer<|message|># Tools\n"
        "\n"
        "## notes\n"
        "\n"
        "Just notes.\n"
        "Second line.<|end|>"
    )


def test_namespace_description_with_tools(enc):
    """A namespace description becomes '//' lines above the namespace."""
    namespaces = [
        ToolNamespaceConfig(
            name="functions",
            description="Functions namespace.\nLine two.",
            tools=[
                ToolDescription.new("f", "Does f."),
            ],
        ),
    ]
    assert render_namespaces(enc, namespaces) == (
        "<|start|>developer<|message|># Tools\n"
        "\n"
        "## functions\n"
        "\n"
        "// Functions namespace.\n"
        "// Line two.\n"
        "namespace functions {\n"
        "\n"
        "// Does f.\n"
        "type f = () => any;\n"
        "\n"
        "} // namespace functions<|end|>"
    )


def test_two_namespaces_sorted(enc):
    """Namespaces are rendered in key order."""
    namespaces = [
        ToolNamespaceConfig(
            name="zeta",
            description=None,
            tools=[
                ToolDescription.new("z", "Does f."),
            ],
        ),
        ToolNamespaceConfig(
            name="alpha",
            description=None,
            tools=[
                ToolDescription.new("a", "Does f."),
            ],
        ),
        ToolNamespaceConfig(
            name="functions",
            description=None,
            tools=[
                ToolDescription.new("f", "Does f."),
            ],
        ),
    ]
    assert render_namespaces(enc, namespaces) == (
        "<|start|>developer<|message|># Tools\n"
        "\n"
        "## alpha\n"
        "\n"
        "namespace alpha {\n"
        "\n"
        "// Does f.\n"
        "type a = () => any;\n"
        "\n"
        "} // namespace alpha\n"
        "\n"
        "## functions\n"
        "\n"
        "namespace functions {\n"
        "\n"
        "// Does f.\n"
        "type f = () => any;\n"
        "\n"
        "} // namespace functions\n"
        "\n"
        "## zeta\n"
        "\n"
        "namespace zeta {\n"
        "\n"
        "// Does f.\n"
        "type z = () => any;\n"
        "\n"
        "} // namespace zeta<|end|>"
    )


def test_multiline_tool_description_lf(enc):
    """A multi-line tool description gets one '// ' per line, empty lines included."""
    tools = [
        ToolDescription.new(
            "f", "Line one.\nLine two.\n\nLine four.",
            parameters={"type": "object", "properties": {"v": {"type": "string"}}},
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Line one.\n"
        "// Line two.\n"
        "// \n"
        "// Line four.\n"
        "type f = (_: {\n"
        "v?: string,\n"
        "}) => any;"
    )


def test_multiline_tool_description_crlf(enc):
    """CRLF line ends are stripped like LF."""
    tools = [
        ToolDescription.new("f", "Line one.\r\nLine two.\r\n"),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Line one.\n"
        "// Line two.\n"
        "type f = () => any;"
    )


def test_multiline_tool_description_trailing_newline(enc):
    """A trailing newline does not add an empty comment line."""
    tools = [
        ToolDescription.new("f", "Only line.\n"),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Only line.\n"
        "type f = () => any;"
    )


def test_multiline_tool_description_empty(enc):
    """An empty tool description prints no comment."""
    tools = [
        ToolDescription.new("f", ""),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "type f = () => any;"
    )


def test_multiline_property_description(enc):
    """A property description is not split into lines."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string", "description": "first\nsecond"}},
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "// first\n"
        "second\n"
        "v?: string,\n"
        "}) => any;"
    )


def test_multiline_oneof_variant_description(enc):
    """A variant description is not split into lines."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {
                    "v": {
                        "oneOf": [
                            {"type": "string", "description": "one\ntwo"},
                            {"type": "number"},
                        ],
                    },
                },
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: {\n"
        "v?:\n"
        " | string // one\n"
        "two\n"
        " | number\n"
        ",\n"
        "}) => any;"
    )


def test_multiline_object_description(enc):
    """An object description is not split into lines."""
    tools = [
        ToolDescription.new(
            "f", "Does f.",
            parameters={
                "type": "object",
                "properties": {"v": {"type": "string"}},
                "description": "params\r\nobject",
            },
        ),
    ]
    assert render_function_tools(enc, tools) == functions_block(
        "// Does f.\n"
        "type f = (_: // params\r\n"
        "object\n"
        "{\n"
        "v?: string,\n"
        "}) => any;"
    )



# Rust's str::lines splits on "\n" and drops one "\r" before it; a bare "\r" stays.


def test_multiline_tool_description_bare_cr_at_end(enc):
    """A trailing bare CR is kept: only CR LF counts as a line end."""
    tools = [ToolDescription.new("f", "x\r")]
    assert render_function_tools(enc, tools) == functions_block("// x\r\ntype f = () => any;")


def test_multiline_tool_description_bare_cr_on_last_line(enc):
    """A bare CR ending the last of several lines is kept."""
    tools = [ToolDescription.new("f", "x\ny\r")]
    assert render_function_tools(enc, tools) == functions_block("// x\n// y\r\ntype f = () => any;")


def test_multiline_tool_description_bare_cr_inside_a_line(enc):
    """A bare CR inside a line does not split it."""
    tools = [ToolDescription.new("f", "x\ry")]
    assert render_function_tools(enc, tools) == functions_block("// x\ry\ntype f = () => any;")


def test_multiline_tool_description_cr_cr_lf(enc):
    """CR CR LF loses one CR."""
    tools = [ToolDescription.new("f", "x\r\r\ny")]
    assert render_function_tools(enc, tools) == functions_block("// x\r\n// y\ntype f = () => any;")


def test_namespace_description_bare_cr_at_end(enc):
    """A namespace description keeps a trailing bare CR too."""
    namespaces = [ToolNamespaceConfig(name="n", description="a\r", tools=[])]
    assert render_namespaces(enc, namespaces) == "<|start|>developer<|message|># Tools\n\n## n\n\na\r<|end|>"
