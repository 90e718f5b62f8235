"""Ollama's contract at the pinned release: every env var, path, port and user the chart relies on.

Read from ollama/ollama at tag v0.32.15 (commit b7871fc0d1d8); ``changed`` compares with v0.6.8,
the previous pin. Renovate bumps OLLAMA_IMAGE; the bump's review re-reads these rows.
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source
from homelab_ai.base.values import ContainerImage

# Docker tags are the version without a leading v (.github/workflows/release.yaml@v0.32.15 L716-717,
# docker/metadata-action type=semver,pattern={{version}}); otwld/ollama-helm Chart.yaml@eadf03e L9
# tracks the same release as appVersion.
OLLAMA_IMAGE = ContainerImage(repository="ollama/ollama", tag="0.32.15")
VERSION = OLLAMA_IMAGE.tag

_REPO = "ollama/ollama"
_TAG = f"v{VERSION}"


def _src(path: str, lines: str) -> Source:
    return Source(repo=_REPO, path=path, ref=_TAG, lines=lines)


OLLAMA_CONTRACT = AppContract(
    app="Ollama",
    version=VERSION,
    image=OLLAMA_IMAGE,
    previous_version="0.6.8",
    image_source=_src(".github/workflows/release.yaml", "L716-717"),
    knobs=(
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_HOST",
            meaning="bind address host:port; default 127.0.0.1:11434 (the image sets 0.0.0.0:11434)",
            source=_src("envconfig/config.go", "L20-60"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_MODELS",
            meaning="models folder; default $HOME/.ollama/models",
            source=_src("envconfig/config.go", "L111-124"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_KEEP_ALIVE",
            meaning="how long an idle model stays loaded (Go duration or seconds); default 5m, 0 unloads at once",
            source=_src("envconfig/config.go", "L126-144"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_MAX_LOADED_MODELS",
            meaning="models resident at once; default 0 = 3 per GPU (server/sched.go L86, L286-288)",
            source=_src("envconfig/config.go", "L276-277"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_NUM_PARALLEL",
            meaning="parallel requests per loaded model; default 1",
            source=_src("envconfig/config.go", "L274-275"),
            changed="default 0 (auto) at v0.6.8 (envconfig/config.go L207), 1 now; the chart sets it explicitly",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_CONTEXT_LENGTH",
            meaning="default context window in tokens; 0 = chosen from total VRAM (server/routes.go L2043-2057)",
            source=_src("envconfig/config.go", "L229-230, L336"),
            changed="default 4096 at v0.6.8 (envconfig/config.go L172); now 0 = 4k below 23 GiB, 32k from 23 GiB, "
            "256k from 47 GiB of VRAM: on a 24 GiB card the KV cache grows 8x unless the chart pins it",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="HOME",
            meaning="the server keeps its key pair under $HOME/.ollama; the image's /root is not writable here",
            source=_src("auth/auth.go", "L18-26, L54"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /api/version",
            meaning='{"version": "x.y.z"}, 200 once the server listens: the probes and the pull Job wait on it',
            source=_src("server/routes.go", "L1879-1880"),
            changed="a known path with the wrong method now answers 405 (L1870 HandleMethodNotAllowed), was 404",
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /api/tags",
            meaning='{"models": [{"name", "model", "modified_at", "size", "digest", "details", ...}]}',
            source=_src("server/routes.go", "L1886-1887; api/types.go L797-799, L822-832"),
            changed="entries gained remote_model, remote_host and capabilities (all omitempty)",
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /api/pull",
            meaning='{"model", "stream"} -> NDJSON ProgressResponse lines; an error after the first line '
            'arrives as an {"error"} line in a 200 stream',
            source=_src("server/routes.go", "L1102-1161, L2097-2142; api/types.go L764-782"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /api/ps",
            meaning='{"models": [{"name", "model", "size", "size_vram", "expires_at", ...}]}: the VRAM arbiter '
            "reads each loaded model's VRAM",
            source=_src("server/routes.go", "L1907, PsHandler L2271-2300; api/types.go L835-844"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /api/generate",
            meaning="NDJSON; an empty prompt with keep_alive 0 unloads the model (done_reason unload), at once "
            "if idle, else when its requests end: how the VRAM arbiter unloads",
            source=_src("server/routes.go", "L1908, L402-415; server/sched.go expireRunner L1713-1731, L416-424"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /api/chat",
            meaning="NDJSON chat; keep_alive (number = seconds, Go duration string, negative = forever) the "
            "VRAM arbiter caps",
            source=_src("server/routes.go", "L1909; api/types.go Duration.UnmarshalJSON L1243-1270"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /api/embed",
            meaning="embeddings load the model too: the VRAM arbiter admits them",
            source=_src("server/routes.go", "L1910"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /api/embeddings",
            meaning="the older embeddings route, admitted like /api/embed",
            source=_src("server/routes.go", "L1911"),
        ),
        Knob(
            kind=KnobKind.PORT,
            name="11434",
            meaning="the API port (EXPOSE 11434, ENV OLLAMA_HOST=0.0.0.0:11434)",
            source=_src("Dockerfile", "L317-318"),
        ),
        Knob(
            kind=KnobKind.USER,
            name="10001:10001",
            meaning="the chart's non-root user; the image has no USER line (root), and needs only HOME "
            "and OLLAMA_MODELS writable",
            source=_src("Dockerfile", "L296-320"),
            changed="base image ubuntu:24.04 (was ubuntu:20.04, Dockerfile@v0.6.8 L117)",
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/models",
            meaning="the models volume; OLLAMA_MODELS points at its models/ folder",
            source=_src("envconfig/config.go", "L111-124"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/tmp",
            meaning="HOME (key pair) and temporary files (emptyDir)",
            source=_src("auth/auth.go", "L18-26"),
        ),
    ),
)
