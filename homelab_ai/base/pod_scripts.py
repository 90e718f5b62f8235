"""Programs that run inside the cluster, shipped in ConfigMaps so the manifests stay self-contained.

Each is standard-library Python run with a plain pinned python image: no image to build, nothing
fetched at start. They live beside the construct that ships them and import nothing from homelab_ai.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def script_path(package: str, file_name: str) -> Path:
    """Where ``<package>/<file_name>`` is on disk (tests run it as the container does)."""
    return Path(str(resources.files(package).joinpath(file_name)))


def script_text(package: str, file_name: str) -> str:
    """The source of ``<package>/<file_name>``, as it goes into a ConfigMap."""
    return resources.files(package).joinpath(file_name).read_text(encoding="utf-8")
