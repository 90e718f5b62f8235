"""The files of a new homelab repo built on homelab-ai (`homelab-ai init DIR`).

A repo needs little of its own: its facts (``homelab.py``), where `homelab-ai` finds them
(``pyproject.toml``), what `cdk8s synth` runs (``cdk8s.yaml``) and a folder for the encrypted
secrets. Everything else comes from the installed library.
"""

from __future__ import annotations

from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError

FACTS_MODULE = "homelab"

PYPROJECT = f"""\
# Only homelab-ai's settings: this repo is not a Python package of its own.
[tool.homelab-ai]
# The function that builds your stack, MODULE:FUNCTION, returning (cdk8s.App, {{chart id: dist/ folder}}).
app = "{FACTS_MODULE}:build"
"""

CDK8S_YAML = """\
# `cdk8s synth` runs homelab-ai's synth: validated first, encrypted secrets copied byte for byte.
# (cdk8s empties its output folder before it runs the app; `homelab-ai synth` alone never leaves dist/
# half-written.)
language: python
app: homelab-ai synth
output: dist
"""

FACTS = '''\
"""This homelab's AI namespace: its facts, and nothing else (homelab-ai builds the rest).

Change the values below to your network, card and disks; then `homelab-ai synth` writes dist/.
"""

from __future__ import annotations

from pathlib import Path

import cdk8s

from homelab_ai import AiStack, AiStackProps, LbProvider, LoadBalancer, SharedGpuProps, VramEnvelope

ROOT = Path(__file__).resolve().parent


def site() -> AiStackProps:
    """Your facts. Every field is documented in homelab-ai's API reference (AiStackProps)."""
    return AiStackProps(
        namespace="ai",
        # Your card, its VRAM in GiB, and how many pods may share it (time-slicing replicas).
        gpu=SharedGpuProps(card="NVIDIA GeForce RTX 3090", vram_gib=24, replicas=4),
        # VRAM in GiB each app holds when idle, and between what and what when busy.
        ollama_vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=16),
        stable_diffusion_vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=12),
        # Free addresses of your load balancer's pool (MetalLB by default).
        open_webui_address=LoadBalancer(ip="192.168.1.240", port=80, provider=LbProvider.METALLB),
        stable_diffusion_address=LoadBalancer(ip="192.168.1.241", port=80, provider=LbProvider.METALLB),
        secrets_dir=ROOT / "secrets",
        models=["llama3.2"],
        # 3 Longhorn replicas; set 1 on a single-node cluster.
        storage_replicas=3,
    )


def build() -> tuple[cdk8s.App, dict[str, str]]:
    """The stack in a cdk8s App, and the dist/ folder of each chart."""
    stack = AiStack(cdk8s.App(), "Homelab", site())
    return stack.app, stack.folders
'''

GITIGNORE = """\
.venv/
__pycache__/
# Plaintext never belongs in the repo; age private keys neither.
*.dec.yaml
*.agekey
keys.txt
"""

README = """\
# My homelab's AI stack

Built with [homelab-ai](https://pypi.org/project/homelab-ai/): `homelab.py` holds this homelab's
facts; `dist/` is what Flux applies; `docs/` is the operator's page. Both are generated.

    homelab-ai secrets new-key   # your own age key, .sops.yaml, and the encrypted secrets
    homelab-ai synth             # validate, then write dist/
    homelab-ai docs              # write docs/ai-namespace.md

Commit `homelab.py`, `.sops.yaml`, `secrets/`, `dist/` and `docs/` (never the age key), then point
Flux at `./dist/flux` once (the docs page has the command).
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "cdk8s.yaml": CDK8S_YAML,
    f"{FACTS_MODULE}.py": FACTS,
    ".gitignore": GITIGNORE,
    "README.md": README,
    "secrets/.gitkeep": "",
}


def write_new_project(target: Path) -> list[Path]:
    """Write the starter files into ``target``; refuses to overwrite any file that is already there."""
    existing = sorted(name for name in FILES if (target / name).exists())
    if existing:
        raise HomelabConfigError(
            "homelab-ai init DIR",
            f"{target} already has {', '.join(existing)}",
            "choose an empty or new folder (init never overwrites a file)",
        )
    written = []
    for name, content in FILES.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written
