"""tunesmith: learn music as a sequence of symbols and compose new music."""

import os

# numpy's OpenBLAS gives each thread that first calls it a pool of its own, and a sampler on a
# web server's second thread then ran 4-30 times slower (benchmarks/sheet_load.py); the sampler's
# small matrix products want one BLAS thread anyway. Set before numpy loads; a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
