"""Stopping cleanly: SIGTERM and SIGHUP become an exception, like Ctrl-C already is."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Terminated", "terminate_as_exception"]


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind, clean up, exit 143."""


@contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception so clean-up runs (Ctrl-C already is one)."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
