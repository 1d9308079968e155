"""The live path, sans-I/O: a session takes audio bytes and model results and
returns decode requests and typed events."""
