"""`python -m tunesmith`: the command line (also what `torchrun -m tunesmith train ...` runs)."""

from .cli import main

main()
