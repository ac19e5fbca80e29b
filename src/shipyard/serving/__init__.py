"""Model serving: worker processes that load a model once and answer the worker protocol
(:mod:`shipyard.services.serving_ports`), and the runtimes that start and watch them."""
