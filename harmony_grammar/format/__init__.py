"""The format's data files bound to Python: the tokenizer bridge, the grammar, the header interpreter, content decoding and the templates."""
