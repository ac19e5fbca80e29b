"""The native API's answers as plain data: one definition, shared by the server and the SDK.

Each shape is a frozen dataclass. The server answers with it (``response_model=``; pydantic
reads the dataclass, and its attribute docstrings become the OpenAPI document's field
descriptions); the SDK decodes answers into it with ``shipyard.client._convert.decode``,
which ignores fields it does not know, so an older SDK reads a newer server's answers.

Rules that keep it shareable: plain dataclasses and the standard library only — no pydantic
(the SDK and the CLI import this, and their start-up time is measured), nothing of the server,
services or stores. ``__pydantic_config__`` is a plain dict pydantic reads when the server
uses the class, and nobody else sees.
"""
