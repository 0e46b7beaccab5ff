"""Deep Region Competition: unsupervised foreground extraction (Yu et al., NeurIPS 2021)."""

import os

__version__ = "0.1.0"

# Idle OpenMP threads sleep instead of spinning. Where more threads want the CPU than it has cores (another
# job, a parallel test), spinning threads steal each other's time many times over; passive waiting changes no
# result, only how threads wait (measured in docs/performance.md). It takes effect when drc is imported before
# torch loads its OpenMP runtime; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
