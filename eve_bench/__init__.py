"""eve-bench: evaluation harness and reference implementation for text-guided video editing."""

__version__ = "0.1.0"
