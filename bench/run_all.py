"""`make bench`: the speed table and the GPU memory estimate in one run (a few minutes on 2 CPU cores).

    python -m bench.run_all                 # 1 thread
    python -m bench.run_all --threads 2     # any bench.speed option passes through

Prints the speed table (optimised vs eager fp32, with `speedup:` lines) and the GPU memory
estimate for the paper profile at batch 48.
"""

from __future__ import annotations

import sys
import time

import torch

from bench import memory, speed


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    speed.main(argv)
    print()
    torch.set_num_threads(speed.parse_args(argv).threads)
    print(memory.memory_table(memory.gpu_memory_estimate()))
    print(f"\nbench wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
