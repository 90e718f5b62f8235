"""The homelab's own chart app: the facts of this cluster, and only here."""
