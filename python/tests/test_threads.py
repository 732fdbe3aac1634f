"""Python threads: the GIL is released while a kernel runs, and concurrent calls (each on a
queue of its own) give the same bits."""

import threading
import time

import numpy as np

import tgk
from conftest import bits, kkt_inputs, outputs


def run_in_threads(function, count=4):
    results, barrier = [None] * count, threading.Barrier(count)

    def worker(i):
        barrier.wait()
        results[i] = function()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_the_same_call_from_four_threads_gives_identical_bits(call):
    want = [bits(a) for a in outputs(call())]
    for result in run_in_threads(lambda: [bits(a) for a in outputs(call(threads=2))]):
        assert result == want


def test_the_gil_is_released_while_a_kernel_runs():
    # A Python thread notes the time as often as it can while one long kernel call runs. Were
    # the GIL held through the call, it could not run in the middle of it at all.
    k, beta, g = kkt_inputs(np.random.default_rng(0), B=1, T=2048, Hg=4, H=4, K=256)
    finished, stamps = threading.Event(), []

    def note():
        while not finished.is_set():
            stamps.append(time.perf_counter())

    noter = threading.Thread(target=note)
    noter.start()
    time.sleep(0.01)
    start = time.perf_counter()
    tgk.kkt(k, beta, g, threads=1, target="scalar")
    end = time.perf_counter()
    finished.set()
    noter.join()
    quarter = (end - start) / 4
    assert quarter > 0.005, "the call is too short to tell"
    assert any(start + quarter < t < end - quarter for t in stamps)
