"""Implementations of the ports services define: metadata and artifact stores."""
