"""The service's code: `python -m app` starts it (see __main__.py)."""
