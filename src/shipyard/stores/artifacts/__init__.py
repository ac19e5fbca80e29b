"""Artifact stores: a local folder by default, object stores through fsspec."""
