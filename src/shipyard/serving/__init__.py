"""Model serving: worker processes that load a model once and answer the worker protocol
(:mod:`shipyard.services.serving_ports`), and the runtimes that start and watch them.

    payloads   request bodies (Azure ML input_data, MLflow's formats) → model input, checked
               against the signature; predictions → the response shape the request expects
    scorers    what a worker scores with: a no-code MLflow model, or init()/run() of a script
    app        the worker protocol as a raw ASGI app (the model call in a thread pool)
    worker     ``python -m shipyard.serving.worker``: one worker process on uvicorn
    local      LocalProcessRuntime: workers as local processes on UNIX sockets — probes,
               restarts with back-off, rolling revisions without a gap, one log per deployment

``docs/serving.md`` describes the protocol, the payloads and the runtime's behaviour.
"""
