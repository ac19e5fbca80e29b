"""Compute targets: where a job's process runs (``local`` processes, a ``ray`` cluster).

Each implements :class:`shipyard.services.compute.ComputeTarget`; the services never import
a backend directly, they look it up by kind in :mod:`shipyard.compute.registry`."""
