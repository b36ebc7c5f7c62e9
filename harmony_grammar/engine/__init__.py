"""The engine: render conversations to tokens, parse tokens to messages (batch and streaming), and the ``HarmonyEncoding`` that binds them."""
