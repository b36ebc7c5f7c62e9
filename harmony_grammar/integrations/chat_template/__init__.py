"""Hugging Face chat templates: export one from the templates, and check any against the renderer."""
