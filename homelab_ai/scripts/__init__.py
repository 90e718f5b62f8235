"""Scripts that run inside the cluster, shipped in ConfigMaps so the manifests stay self-contained.

Each script is standard-library Python run with a plain pinned python image: no image to build,
nothing fetched at start. Keep them free of homelab_ai imports.
"""

from __future__ import annotations

from importlib import resources


def script_text(file_name: str) -> str:
    """The source of ``homelab_ai/scripts/<file_name>``, as it goes into a ConfigMap."""
    return resources.files(__name__).joinpath(file_name).read_text(encoding="utf-8")
