"""`make bench`: every benchmark table of issue 7 in one run (a few minutes on 2 CPU cores).

    python -m bench.run_all                 # 1 thread
    python -m bench.run_all --threads 2     # any bench.bench_speed option passes through

Prints the speed table (optimised vs eager fp32, with `speedup:` lines) and the GPU memory
estimate for the paper profile at batch 48.
"""

from __future__ import annotations

import sys
import time

import torch

from bench import bench_speed


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    bench_speed.main(argv)
    print()
    torch.set_num_threads(bench_speed.parse_args(argv).threads)
    print(bench_speed.memory_table(bench_speed.gpu_memory_estimate()))
    print(f"\nbench wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
