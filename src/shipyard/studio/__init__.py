"""The web studio: pages over the public API, served by the Shipyard server at ``/``.

Built as server-rendered pages (Jinja2) with progressive enhancement (htmx swaps a table in
place; uPlot draws charts), not as a single-page app, because:

- ``pip install`` brings it whole: templates and three vendored files (uPlot, htmx, our
  ``studio.js``), no Node toolchain, no build step, nothing fetched from a CDN;
- the first rows of a 10,000-run experiment arrive in the first response, with no bundle
  to load and no second round trip (MLflow's UI loads ~10 MB of JavaScript first);
- every page's data comes through the public API, in-process, with the caller's own
  credential (``api.py``), decoded by the SDK's converters into the shared models
  (``shipyard.client._convert``, ``shipyard.api``): the studio can never show more than
  the caller's token may read, and it is not another copy of the contract;
- pages are plain Python and HTML, tested in-process like any route and in headless
  Chromium where a browser is the subject.

Charts fetch their series from the API themselves (``/api/v1/runs/…/metrics/history`` with
``max_points``): the server down-samples, so a 1,000,000-point metric draws like a 1,000-point
one. Mutations (traffic, try-it) are ``fetch`` calls to the API with the session's CSRF header.
"""
