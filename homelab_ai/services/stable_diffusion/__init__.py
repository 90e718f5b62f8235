"""AUTOMATIC1111 Stable Diffusion: the web UI, its checkpoint download and its idle unloader."""
