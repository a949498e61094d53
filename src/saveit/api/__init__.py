"""SaveIt's HTTP API (FastAPI); see :func:`saveit.api.app.create_app`."""
