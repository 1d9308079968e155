"""The shell: the ASGI app, /v3/ws, /v2 REST, health, tokens, the wire shapes, the
streaming model worker, and transcript jobs."""
