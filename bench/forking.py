"""Load processes: forked, so producers and consumers share the cores with the broker."""
from __future__ import annotations

import multiprocessing as mp
import signal

CTX = mp.get_context("fork")


def default_signals() -> None:
    """Forked load processes must not inherit the runner's SIGTERM handler:
    SIGTERM ends them, and SIGINT is for the parent to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
