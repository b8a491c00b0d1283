"""The commands of the `tunesmith` CLI, one module each; `cli.py` assembles them."""
