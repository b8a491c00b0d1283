"""tunesmith: learn music as a sequence of symbols and compose new music."""

__version__ = "0.1.0"
