"""Bridges to other ecosystems: OpenAI-style chat, training masks, and dataset rendering."""
