"""Jobs yield the cores to live streams: the files' models are built on a thread lowered by
`job_niceness`, and the threads their runtime starts inherit it (Linux)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import onnxruntime as ort
import pytest

from streamer.config import settings_from_env
from streamer.models.loader import SEGMENTATION_FILE, SEGMENTATION_MODEL, model_file
from streamer.models.priority import built_lowered, lower_this_thread
from streamer.models.segmenter import PyannoteSegmenter

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def nice_of_threads() -> dict[int, int]:
    """Thread id -> nice value, for every thread of this process (from /proc)."""
    values = {}
    for task in Path("/proc/self/task").iterdir():
        stat = (task / "stat").read_text()
        values[int(task.name)] = int(stat.rsplit(")", 1)[1].split()[16])  # field 19: nice
    return values


def test_a_runtime_built_lowered_runs_its_threads_lowered() -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = nice_of_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 3  # two pool threads besides the caller
    path = model_file(settings_from_env(), SEGMENTATION_MODEL, SEGMENTATION_FILE)
    segmenter = built_lowered(
        10, lambda: PyannoteSegmenter(path, options, ["CPUExecutionProvider"])
    )
    started = {tid: nice for tid, nice in nice_of_threads().items() if tid not in before}
    assert len(started) >= 2 and set(started.values()) == {min(19, base + 10)}
    # the caller is not lowered, and the lowered runtime still works from it
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
    assert segmenter.window_samples > 0


def test_lowering_a_thread_adds_to_its_nice_value_and_caps_at_19() -> None:
    seen: list[int] = []

    def lowered_twice() -> None:
        thread = threading.get_native_id()
        lower_this_thread(10)
        seen.append(os.getpriority(os.PRIO_PROCESS, thread))
        lower_this_thread(15)
        seen.append(os.getpriority(os.PRIO_PROCESS, thread))
        lower_this_thread(0)  # 0: unchanged
        seen.append(os.getpriority(os.PRIO_PROCESS, thread))

    worker = threading.Thread(target=lowered_twice)
    worker.start()
    worker.join()
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(19, base + 10), 19, 19]
