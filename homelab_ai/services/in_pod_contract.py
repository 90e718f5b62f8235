"""The contract of homelab-ai's in-pod programs: the python image that runs them and their own settings.

The programs are ours (standard library only, shipped in ConfigMaps), so their env vars and flags
are sourced from their own files, which the contract test reads. The API paths they call on
Ollama and AUTOMATIC1111 are held to those apps' contracts instead.
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source
from homelab_ai.base.values import SCRIPT_IMAGE

REPO = "homelab-ai"
OLLAMA_PULL = "homelab_ai/services/ollama/ollama_pull.py"
SD_FETCH = "homelab_ai/services/stable_diffusion/sd_fetch_models.py"
SD_UNLOADER = "homelab_ai/services/stable_diffusion/sd_idle_unloader.py"
LONGHORN_JOBS = "homelab_ai/cluster/longhorn/longhorn_jobs.py"
VRAM_ARBITER = "homelab_ai/services/vram_arbiter/vram_arbiter.py"


def _own(path: str) -> Source:
    return Source(repo=REPO, path=path, ref="HEAD")


def _env(name: str, path: str, meaning: str) -> Knob:
    return Knob(kind=KnobKind.ENV, name=name, meaning=meaning, source=_own(path))


IN_POD_CONTRACT = AppContract(
    app="in-pod programs (python image)",
    version=SCRIPT_IMAGE.tag,
    image=SCRIPT_IMAGE,
    previous_version="3.12.10-alpine3.21 (Alpine 3.21 is no longer built)",
    image_source=Source(
        repo="docker-library/official-images",
        path="library/python",
        ref="37079fb",
        lines="L123-126",
        note="Tags: 3.13.15-alpine3.24, 3.13-alpine3.24, 3.13.15-alpine, 3.13-alpine; Directory 3.13/alpine3.24",
    ),
    knobs=(
        Knob(
            kind=KnobKind.ENV,
            name="PYTHONDONTWRITEBYTECODE",
            meaning="no .pyc files next to the read-only scripts",
            source=Source(
                repo="python/cpython",
                path="Doc/using/cmdline.rst",
                ref="v3.13.15",
                lines="PYTHONDONTWRITEBYTECODE",
                read_at_ref=False,
                note="documented since Python 2.6; the tests run the scripts with it set",
            ),
        ),
        _env("SD_URL", SD_UNLOADER, "the web UI the idle unloader watches (pod loopback)"),
        _env("SD_IDLE_TIMEOUT_SECONDS", SD_UNLOADER, "idle time before unloading"),
        _env("SD_POLL_INTERVAL_SECONDS", SD_UNLOADER, "time between polls"),
        _env("SD_MAX_BACKOFF_SECONDS", SD_UNLOADER, "longest wait between retries"),
        _env("SD_HEALTH_PORT", SD_UNLOADER, "port of its /healthz"),
        _env("SD_GATE_PORT", SD_UNLOADER, "port of its API gate (reloads an unloaded checkpoint first)"),
        _env("SD_API_USER", SD_UNLOADER, "the web UI's --api-auth user"),
        _env("SD_API_PASSWORD", SD_UNLOADER, "the web UI's --api-auth password (from the Secret)"),
        _env("SD_CHECKPOINTS", SD_FETCH, "the declared files, as JSON"),
        _env(
            "VRAM_ARBITER_CONFIG", VRAM_ARBITER, "the arbiter's config file (card, apps, envelopes), in its ConfigMap"
        ),
        Knob(kind=KnobKind.FLAG, name="--server", meaning="Ollama's URL", source=_own(OLLAMA_PULL)),
        Knob(
            kind=KnobKind.FLAG,
            name="--wait-seconds",
            meaning="how long to wait for Ollama",
            source=_own(OLLAMA_PULL),
        ),
        Knob(kind=KnobKind.FLAG, name="--models-dir", meaning="the web UI's models/ folder", source=_own(SD_FETCH)),
        Knob(
            kind=KnobKind.FLAG,
            name="--claim",
            meaning="a claim the pre-upgrade Job snapshots",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(kind=KnobKind.FLAG, name="--namespace", meaning="the claims' namespace", source=_own(LONGHORN_JOBS)),
        Knob(
            kind=KnobKind.FLAG, name="--snapshot", meaning="the snapshot's name per claim", source=_own(LONGHORN_JOBS)
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--image",
            meaning="the app image about to be deployed (recorded on the snapshot)",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--longhorn-namespace",
            meaning="where Longhorn keeps Volumes and Snapshots",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--config",
            meaning="the restore drill's objects, as JSON from its ConfigMap",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--sqlite",
            meaning="the database the drill's check runs PRAGMA integrity_check on (or --min-files)",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(kind=KnobKind.API_PATH, name="GET /healthz", meaning="the unloader's own probe", source=_own(SD_UNLOADER)),
        Knob(kind=KnobKind.PORT, name="8099", meaning="the unloader's /healthz", source=_own(SD_UNLOADER)),
        Knob(kind=KnobKind.PORT, name="7861", meaning="the unloader's API gate", source=_own(SD_UNLOADER)),
        Knob(kind=KnobKind.PORT, name="11434", meaning="the arbiter serves Ollama's API", source=_own(VRAM_ARBITER)),
        Knob(kind=KnobKind.PORT, name="7860", meaning="the arbiter serves the web UI's API", source=_own(VRAM_ARBITER)),
        Knob(
            kind=KnobKind.PORT,
            name="9400",
            meaning="the arbiter's /healthz, /status, /metrics",
            source=_own(VRAM_ARBITER),
        ),
        Knob(
            kind=KnobKind.USER,
            name="10001:10001",
            meaning="the idle unloader (the image has no USER; any non-root UID runs the scripts)",
            source=_own(SD_UNLOADER),
        ),
        Knob(kind=KnobKind.USER, name="65534:65534", meaning="the model-pull Job (nobody)", source=_own(OLLAMA_PULL)),
        Knob(
            kind=KnobKind.USER,
            name="65534:65534",
            meaning="the pre-upgrade snapshot Job and the restore drill (nobody); the drill's check runs as the app",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(
            kind=KnobKind.USER,
            name="1000:1000",
            meaning="fetch-models, as the web UI's user so its files are the web UI's",
            source=_own(SD_FETCH),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/tmp",
            meaning="temporary files (emptyDir)",
            source=_own(SD_UNLOADER),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/restored",
            meaning="the drill's scratch claim: SQLite replays its journal there",
            source=_own(LONGHORN_JOBS),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/app/stable-diffusion-webui/models",
            meaning="fetch-models writes the declared files there (--models-dir)",
            source=_own(SD_FETCH),
        ),
    ),
)
