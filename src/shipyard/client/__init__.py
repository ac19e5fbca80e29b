"""The Python SDK. It speaks HTTP only (also in-process, over an ASGI transport)."""
