"""The VRAM arbiter: a proxy that admits GPU work only when it fits the card, with its construct and monitoring."""
