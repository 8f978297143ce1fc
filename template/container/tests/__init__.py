"""The service's tests: `make test` (or `python -m pytest`)."""
