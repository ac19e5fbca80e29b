"""The user's project files: job, environment, data and compute YAML (Azure ML CLI v2 shapes)
and the code snapshot of a job. Read by the CLI before anything is sent, and again by the
server, with the same models."""
