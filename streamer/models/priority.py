"""Lower the CPU priority of the calling thread, so that live streams keep their cores while
whole files are transcribed. On Linux a thread's nice value is its own (the scheduler weighs
threads of one process by it), and threads it starts inherit it: model runtimes built on a
lowered thread run their thread pools lowered too. Elsewhere this does nothing."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def lower_this_thread(niceness: int) -> None:
    """Add `niceness` (0..19) to the calling thread's nice value."""
    if niceness <= 0 or sys.platform != "linux":
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + niceness))
    except OSError as error:  # raising nice is always allowed; a sandbox may still refuse
        log.warning("cannot lower the priority of thread %s: %s", thread_id, error)


def built_lowered(niceness: int, build: Callable[[], T]) -> T:
    """`build()` on a new thread lowered by `niceness`: what it starts inherits the priority."""
    with ThreadPoolExecutor(1, initializer=lower_this_thread, initargs=(niceness,)) as pool:
        return pool.submit(build).result()
