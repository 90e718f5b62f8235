"""Subcommands of `homelab-ai`, one module each (see homelab_ai/cli.py)."""
