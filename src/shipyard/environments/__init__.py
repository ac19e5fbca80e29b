"""Job environments: Python virtual environments built with uv from a pip/conda spec,
cached by the hash of the spec."""
