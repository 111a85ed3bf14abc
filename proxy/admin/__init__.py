"""The management API: HTTP on the proxy's own event loop (FastAPI on uvicorn),
with the Prometheus metrics. ``access`` and ``views`` are the rules (pure),
``metrics`` the collector, ``api`` the routes, ``server`` and ``wiring`` the glue."""
