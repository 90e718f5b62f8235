"""Runnable examples of homelab_ai used from a chart of its own (see docs/library-guide.md)."""
