"""Service factories of the resources (``Resource.services``): ``f(wiring) -> service``."""
