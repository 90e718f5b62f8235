"""Small programs that homelab-ai ships into pods through ConfigMaps (standard library only)."""
