"""The one place the package version is written down."""

__version__ = "0.1.0"
