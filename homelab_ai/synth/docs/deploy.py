"""Deploying with Flux, and the first-time setup the chart declares (model pulls, checkpoints)."""

from __future__ import annotations

import cdk8s

from homelab_ai.base.values import go_duration
from homelab_ai.services.ollama.llm_backend import LlmBackend
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion
from homelab_ai.synth.docs.page import (
    EXAMPLE_OLLAMA_MODEL,
    Page,
    code,
    lan_url,
    pod_ref,
    shell,
    table,
)


def deploy_section(page: Page) -> str | None:
    flux = page.model.flux
    if not flux:
        return None
    rows = [
        (
            f.name,
            code(f.path),
            ", ".join(d.name for d in f.props.depends_on) or "-",
            "yes" if f.props.prune else "no",
            f"sops, key in `{f.props.sops_secret_name}`" if f.decrypts_sops else "-",
        )
        for f in flux
    ]
    first = flux[0]
    flux_folder = page.model.folders.get(cdk8s.Chart.of(first).node.id, "flux")
    flux_path = f"{first.props.root}/{flux_folder}"
    return "\n\n".join(
        [
            "## Deploying with Flux",
            f"Flux applies each folder of `dist/` through a Flux Kustomization in `{first.namespace}`, from "
            f"`{first.props.source.reference}`, and only after the ones it depends on are ready:",
            table(("Flux Kustomization", "Path", "Depends on", "Prune", "Decryption"), rows),
            f"The Kustomizations above are in `{flux_path}`. Point Flux at it once: export a Kustomization "
            "for it and commit the file next to your cluster's Flux config (the folder Flux was bootstrapped "
            "with):",
            shell(
                f"flux create kustomization homelab-ai --source={first.props.source.reference} "
                f"--path={flux_path} --prune=true --interval={go_duration(first.props.interval)} "
                "--export > homelab-ai.yaml"
            ),
        ]
    )


EXAMPLE_CHECKPOINT = """\
StableDiffusionProps(
    ...,
    checkpoints=[
        Checkpoint(
            url="https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
            file_name="sd_xl_base_1.0.safetensors",
            sha256="31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
            kind="checkpoint",  # or "lora", "vae"
        ),
    ],
)"""


def _ollama_setup(page: Page, backend: LlmBackend) -> list[str]:
    pod = pod_ref(backend.gpu_app.app)
    where = f"Models are kept on volume `{backend.models_volume.claim_name}` (`{backend.props.models_path}/models`)."
    by_hand = shell(
        f"kubectl exec -it -n {page.namespace} {pod} -- ollama pull <model>",
        f"kubectl exec -it -n {page.namespace} {pod} -- ollama list",
    )
    pull = backend.model_pull
    if pull is None:
        return [
            f"### Models for {backend.name}",
            f"{where} No model is declared: add names to `LlmBackendProps.models` (e.g. "
            f'`models=["{EXAMPLE_OLLAMA_MODEL}"]`) so a Job pulls them on every fresh cluster, or pull by hand:',
            by_hand,
        ]
    return [
        f"### Models for {backend.name}",
        f"{where} Declared models ({', '.join(code(m) for m in pull.models)}) are pulled by Job "
        f"`{pull.job_name}` once Ollama answers; models already present are skipped. Follow it with:",
        shell(f"kubectl logs -n {page.namespace} job/{pull.job_name} -f"),
        "To add a model, add it to `LlmBackendProps.models` and run `make synth`: the Job's name carries a hash "
        "of the list, so the new list runs a new Job. A model pulled by hand is not restored by a rebuild:",
        by_hand,
    ]


def _checkpoint_setup(page: Page, sd: StableDiffusion) -> list[str]:
    folder = f"`{sd.props.root_path}/models/<Stable-diffusion|Lora|VAE>` on volume `{sd.data.claim_name}`"
    if sd.checkpoints:
        rows = [(c.file_name, c.kind.value, code(c.relative_path), f"`{c.sha256[:12]}…`") for c in sd.checkpoints]
        return [
            f"### Checkpoints for {sd.name}",
            f"Declared files are fetched into {folder} by the init container `fetch-models` before the web UI "
            "starts (checksum verified, present files skipped), so the UI lists them without a refresh:",
            table(("File", "Kind", "Path under models/", "sha256"), rows),
        ]
    url = lan_url(sd.gpu_app.app) or sd.url
    return [
        f"### Checkpoints for {sd.name}",
        f"No checkpoint is declared (license and size are your choice). Declare one in the chart, and an init "
        f"container fetches it into {folder} and verifies its sha256 before the web UI starts:",
        f"```python\n{EXAMPLE_CHECKPOINT}\n```",
        "Or copy one by hand and refresh the list through the API:",
        shell(
            f"kubectl exec -it -n {page.namespace} {pod_ref(sd.gpu_app.app)} -- "
            f"curl -L -o {sd.props.models_path}/my-model.safetensors '<download URL>'",
            f"PASSWORD=$(kubectl get secret -n {page.namespace} {sd.password_ref.secret_name} "
            f"-o jsonpath='{{.data.{sd.password_ref.key}}}' | base64 -d)",
            f'curl -X POST -u "{sd.props.username}:$PASSWORD" {url}/sdapi/v1/refresh-checkpoints',
        ),
    ]


def first_time_setup_section(page: Page) -> str | None:
    parts: list[str] = []
    for backend in page.of_kind(LlmBackend):
        parts += _ollama_setup(page, backend)
    for sd in page.of_kind(StableDiffusion):
        parts += _checkpoint_setup(page, sd)
    if not parts:
        return None
    return "## First-time setup\n\n" + "\n\n".join(parts)
