"""AUTOMATIC1111's contract: the image's user, folders and entrypoint, and the web UI's flags and API.

The image is universonic/stable-diffusion-webui, target ``full`` (universonic/docker-stable-diffusion-webui
at commit 55aa46a, the head of its only branch; the repository has no tags). What its CI publishes
(.github/workflows/build.yml): on the nightly schedule (L9-10, cron 0 3 * * *) ``nightly-<YYYYMMDDhhmmss>-full``
(L71, the run's own clock, so not predictable) and ``full`` (L72) on every run. No tag names the web
UI version: the Dockerfile clones AUTOMATIC1111's ``master`` at build time (L17), and master has been
the v1.10.1 release since July 2024. So the pin is a digest of ``full``. That digest must be read from
the registry (``docker buildx imagetools inspect universonic/stable-diffusion-webui:full``), which
this project's build machines cannot reach; until it is set, ``PIN_GAP`` says so, the docs list it,
and Renovate (``pinDigests`` for this image) opens the pull request that adds it on its first run.
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source
from homelab_ai.base.values import ContainerImage

VERSION = "v1.10.1"
SD_IMAGE = ContainerImage(repository="universonic/stable-diffusion-webui", tag="full")
PIN_GAP = (
    "universonic/stable-diffusion-webui publishes no version-named tag (full, nightly-<timestamp>-full); its "
    "digest could not be read here (no registry access); Renovate's pinDigests adds it on its first run"
)

_IMAGE_REPO = "universonic/docker-stable-diffusion-webui"
_IMAGE_REF = "55aa46a"
_WEBUI_REPO = "AUTOMATIC1111/stable-diffusion-webui"


def _image(path: str, lines: str) -> Source:
    return Source(repo=_IMAGE_REPO, path=path, ref=_IMAGE_REF, lines=lines)


def _webui(path: str, lines: str, note: str) -> Source:
    return Source(repo=_WEBUI_REPO, path=path, ref=VERSION, lines=lines, read_at_ref=False, note=note)


_NOT_AT_TAG = "the repository snapshot (1.6 GB) is over the fetch limit; read in stored copies of upstream's file"

SD_CONTRACT = AppContract(
    app="AUTOMATIC1111 (Stable Diffusion web UI)",
    version=VERSION,
    image=SD_IMAGE,
    previous_version="the same floating universonic/stable-diffusion-webui:full",
    image_source=_image(".github/workflows/build.yml", "L9-10, L65-72"),
    knobs=(
        Knob(
            kind=KnobKind.FLAG,
            name="--listen",
            meaning="serve on 0.0.0.0 (the image's entrypoint passes it too)",
            source=_webui("modules/cmd_args.py", "", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--port",
            meaning="the web UI's port; the chart's value comes after the entrypoint's --port 8080 and "
            "argparse keeps the last one",
            source=_webui("modules/cmd_args.py", "", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--gradio-auth",
            meaning="'user:password' login for the UI",
            source=_webui("modules/cmd_args.py", "", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--api",
            meaning="mount the /sdapi/v1 API",
            source=_webui("modules/cmd_args.py", "", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.FLAG,
            name="--api-auth",
            meaning="'user:password': every /sdapi route then needs HTTP Basic auth, else 401",
            source=_webui("modules/api/api.py", "Api.__init__, add_api_route, auth", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="SD_WEBUI_PASSWORD",
            meaning="not read by the web UI: Kubernetes expands $(SD_WEBUI_PASSWORD) into the two auth flags, "
            "so the password comes from the Secret",
            source=Source(
                repo="kubernetes/api",
                path="core/v1/types.go",
                ref="v0.27.0",
                lines="Container.Args",
                read_at_ref=False,
                note="'Variable references $(VAR_NAME) are expanded using the container's environment' (field doc)",
            ),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /internal/ping",
            meaning="{} once the UI is up; outside the /sdapi router, so not behind --api-auth: the probes",
            source=_webui("modules/ui.py", "setup_ui_api", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /sdapi/v1/progress",
            meaning="{progress, eta_relative, state: {job, job_count, job_timestamp, ...}}: the idle unloader polls it",
            source=_webui("modules/api/api.py", "progressapi", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/unload-checkpoint",
            meaning="moves the weights to RAM (sd_models.unload_model_weights -> send_model_to_cpu), answers {}; "
            "not under the queue lock a job holds. The next generation does not move them back "
            "(reload_model_weights returns early for the assigned checkpoint): reload-checkpoint first",
            source=_webui("modules/api/api.py", "unloadapi; modules/sd_models.py reload_model_weights", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/reload-checkpoint",
            meaning="moves the weights back to the GPU (send_model_to_device), answers {}: the VRAM arbiter "
            "and the idle unloader's gate call it before a generation",
            source=_webui("modules/api/api.py", "reloadapi", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /sdapi/v1/memory",
            meaning="{ram, cuda: {system: {free, used, total}, allocated, reserved, active, ...}}: the VRAM "
            "arbiter reads cuda.reserved.current as the web UI's VRAM",
            source=_webui("modules/api/api.py", "get_memory", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/img2img",
            meaning="a generation like txt2img: the VRAM arbiter admits it, the idle unloader's gate reloads first",
            source=_webui("modules/api/api.py", "img2imgapi", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/extra-single-image",
            meaning="upscaling on the GPU: the VRAM arbiter admits it",
            source=_webui("modules/api/api.py", "extras_single_image_api", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/extra-batch-images",
            meaning="batch upscaling on the GPU: the VRAM arbiter admits it",
            source=_webui("modules/api/api.py", "extras_batch_images_api", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/interrogate",
            meaning="CLIP or DeepDanbooru on the GPU: the VRAM arbiter admits it",
            source=_webui("modules/api/api.py", "interrogateapi", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /sdapi/v1/options",
            meaning="Open WebUI reads the current model (open_webui/routers/images.py@v0.12.4 L183-216)",
            source=_webui("modules/api/api.py", "get_config", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/options",
            meaning="Open WebUI sets the model chosen in its admin page (routers/images.py L183-216)",
            source=_webui("modules/api/api.py", "set_config", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /sdapi/v1/sd-models",
            meaning="Open WebUI lists the checkpoints (routers/images.py L424)",
            source=_webui("modules/api/api.py", "get_sd_models", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="POST /sdapi/v1/txt2img",
            meaning="Open WebUI generates (routers/images.py L826), through the idle unloader's gate, which "
            "reloads an unloaded checkpoint first; State.begin sets job_count -1 and job_timestamp to the second",
            source=_webui("modules/api/api.py", "text2imgapi", _NOT_AT_TAG),
        ),
        Knob(
            kind=KnobKind.PORT,
            name="7860",
            meaning="the chart's --port (the image EXPOSEs 8080, its entrypoint's default)",
            source=_image("Dockerfile", "L30, L35"),
        ),
        Knob(
            kind=KnobKind.USER,
            name="1000:1000",
            meaning="the image's user sduser:sdgroup, who owns /app (webui.sh refuses root)",
            source=_image("Dockerfile", "L8-14"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/app/stable-diffusion-webui/models",
            meaning="checkpoints, LoRAs, VAEs (a VOLUME of the image; the chart's volume, sub-path models)",
            source=_image("Dockerfile", "L26"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/app/stable-diffusion-webui/outputs",
            meaning="generated images (a VOLUME of the image; the chart's volume, sub-path outputs)",
            source=_image("Dockerfile", "L27"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/tmp",
            meaning="temporary files (emptyDir); the rest of /app stays writable in the image's own layer",
            source=_image("Dockerfile", "L14-21"),
        ),
    ),
    pin_gap=PIN_GAP,
)
