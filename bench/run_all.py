"""`make bench`: the speed table, the GPU memory estimate and `drc extract`'s throughput and memory in one
run (about half an hour on 2 CPU cores, most of it extracting 250 photos three times and writing 1,000
large JPEGs).

    python -m bench.run_all                 # 1 thread
    python -m bench.run_all --threads 2     # any bench.speed option passes through

Prints the speed table (optimised vs eager fp32, with `speedup:` lines) and the GPU memory
estimate for the paper profile at batch 48.
"""

from __future__ import annotations

import sys
import time

import torch

from bench import extract_speed, memory, speed


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    speed.main(argv)
    print()
    threads = speed.parse_args(argv).threads
    torch.set_num_threads(threads)
    print(memory.memory_table(memory.gpu_memory_estimate()))
    print()
    extract_speed.main(["--images", "250", "--threads", str(threads)])
    print(f"\nbench wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
