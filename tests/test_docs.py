"""docs/ is generated from the chart model: every number in it is the one in dist/."""

from __future__ import annotations

import re
from datetime import timedelta

import cdk8s
import pytest
import yaml

from apps.homelab import build
from homelab_ai import (
    GpuTimeSlicedApp,
    GpuTimeSlicedAppProps,
    IdleUnload,
    SynthError,
)
from homelab_ai.synth.docs import GENERATED_MARKER, render_docs, write_docs
from tests.factories import app_props, charts, gpu, vram
from tests.helpers import run_cli_in_process

PAGE = "ai-namespace.md"


def _docs(app: cdk8s.App, folders, repo_root) -> dict[str, str]:
    files = render_docs(app, folders, project_root=repo_root, app_spec="apps.homelab:build")
    return {item.path: item.content.decode() for item in files}


@pytest.fixture(scope="module")
def rendered(repo_root) -> tuple:
    """The spec chart's docs as `homelab-ai docs` renders them, once for the module: tests only read them."""
    app, folders = build()
    return tuple(render_docs(app, folders, project_root=repo_root, app_spec="apps.homelab:build"))


@pytest.fixture(scope="module")
def page(rendered) -> str:
    return {item.path: item.content.decode() for item in rendered}[PAGE]


def _section(page: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(1)


def _table(text: str, header_start: str) -> list[dict[str, str]]:
    """The markdown table whose header row starts with ``| header_start |``, as dicts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_start} |"))
    headers = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(headers, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


@pytest.mark.golden
@pytest.mark.stack
def test_committed_docs_are_what_the_code_produces(repo_root, rendered):
    """Drift check (golden): committed docs/ equal a fresh render; what they say is tested section by section."""
    for path, content in {item.path: item.content.decode() for item in rendered}.items():
        assert (repo_root / "docs" / path).read_text() == content, f"docs/{path} is stale: run `make synth`"
    generated = {p.name for p in (repo_root / "docs").glob("*.md") if p.read_text().startswith(GENERATED_MARKER)}
    assert generated == {PAGE}


@pytest.mark.stack
def test_two_runs_give_identical_docs(repo_root, page):
    app, folders = build()
    assert _docs(app, folders, repo_root)[PAGE] == page


def test_services_table_has_each_service_ip_port_and_type_of_dist(page, homelab_objects):
    rows = {r["Service"]: r for r in _table(_section(page, "Services"), "Service")}
    services = {name: obj for (kind, name), obj in homelab_objects.items() if kind == "Service"}
    assert set(rows) == set(services)
    for name, svc in services.items():
        row = rows[name]
        assert row["Port"] == ", ".join(str(p["port"]) for p in svc["spec"]["ports"])
        assert row["Type"].split()[0] == svc["spec"]["type"]
        ip = svc["metadata"].get("annotations", {}).get("metallb.io/loadBalancerIPs", "cluster-internal")
        assert row["IP"] == ip
    assert rows["ollama"]["Purpose"] == "LLM inference backend"
    assert rows["open-webui"]["Purpose"] == "LLM chat interface"
    assert rows["stable-diffusion"]["Purpose"] == "Image generation UI"
    assert rows["vram-arbiter"]["Purpose"].startswith("VRAM arbiter: admits chats and images only when they fit")


def test_storage_table_has_each_claim_size_and_class_of_dist(page, homelab_objects):
    rows = {r["Claim"]: r for r in _table(_section(page, "Storage"), "Claim")}
    claims = {name: obj for (kind, name), obj in homelab_objects.items() if kind == "PersistentVolumeClaim"}
    assert set(rows) == set(claims)
    for name, pvc in claims.items():
        assert rows[name]["Size"] == pvc["spec"]["resources"]["requests"]["storage"]
        assert rows[name]["Class"] == pvc["spec"]["storageClassName"]
        assert rows[name]["Access"] == pvc["spec"]["accessModes"][0]
    assert rows["sd-data"]["Holds"] == "Checkpoints, LoRAs, outputs"


def test_gpu_section_has_the_device_plugin_configs_card_and_replicas(page, homelab_objects):
    config = yaml.safe_load(homelab_objects[("ConfigMap", "nvidia-time-slicing")]["data"]["any"])
    replicas = config["sharing"]["timeSlicing"]["resources"][0]["replicas"]
    gpu_text = _section(page, "GPU configuration")
    assert f"**NVIDIA RTX 4000 SFF**, 24 GiB of VRAM, shared by time-slicing into **{replicas}** slices" in gpu_text
    assert f"2 of {replicas} slices are taken" in gpu_text
    sharers = {r["Service"]: r for r in _table(gpu_text, "Service | Namespace")}
    gpu_workloads = {
        name for (kind, name), obj in homelab_objects.items()
        if kind in ("Deployment", "StatefulSet")
        and "nvidia.com/gpu" in obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    }  # fmt: skip
    assert set(sharers) == gpu_workloads == {"ollama", "stable-diffusion"}
    assert sharers["ollama"]["How it frees VRAM"] == "OLLAMA_KEEP_ALIVE (Ollama unloads the model)"
    assert sharers["stable-diffusion"]["Idle timeout"] == "10m"


@pytest.mark.stack
def test_vram_budget_is_the_budget_commands_table_with_its_verdicts(page):
    budget = _section(page, "GPU configuration")
    rows = {r["App"]: r for r in _table(budget, "App | Idle")}
    assert (rows["ollama"]["Idle"], rows["ollama"]["Active"]) == ("0 GiB", "8-16 GiB")
    assert rows["stable-diffusion"]["Active"] == "8-12 GiB"
    assert rows["**total**"]["Active"] == "16-28 GiB"
    assert "ollama 16 + stable-diffusion 12 = 28 GiB on a 24 GiB card" in budget
    assert "the VRAM arbiter 'vram-arbiter' serializes ollama + stable-diffusion" in budget
    assert "Must not be busy at max together" not in budget


def test_vram_budget_shows_a_fitting_card_as_ok(repo_root):
    app, infra, ai = charts()
    card = gpu(infra, vram_gib=24)
    unload = IdleUnload(mechanism="test unloader", timeout=timedelta(minutes=5))
    for name in ("a", "b"):
        GpuTimeSlicedApp(
            ai, name, GpuTimeSlicedAppProps(app=app_props(name), gpu=card, vram=vram(0, 6, 8), idle_unload=unload)
        )
    text = _docs(app, {"infrastructure": "infrastructure", "ai": "ai"}, repo_root)[PAGE]
    assert "| **total** | 0 GiB | 12-16 GiB |" in text
    assert "**OK**: fits" in text


def test_storage_backup_column_shows_the_recurring_jobs_of_each_claims_groups(page, homelab_objects):
    rows = {r["Claim"]: r for r in _table(_section(page, "Storage"), "Claim")}
    jobs = {name: obj["spec"] for (kind, name), obj in homelab_objects.items() if kind == "RecurringJob"}
    snapshot, backup = jobs["user-data-snapshot"], jobs["user-data-backup"]
    expected = (
        f"backup `{backup['cron']}` (keep {backup['retain']}); "
        f"snapshot `{snapshot['cron']}` (keep {snapshot['retain']}); never pruned by Flux"
    )
    assert rows["open-webui-data"]["Backup"] == expected
    assert rows["sd-data"]["Backup"] == expected
    assert rows["ollama-models"]["Backup"] == "no backups (re-creatable); never pruned by Flux"


@pytest.mark.stack
def test_secrets_setup_uses_this_projects_commands_and_the_flux_key_secret(page):
    secrets = _section(page, "Secrets setup")
    rows = {r["Secret"]: r for r in _table(secrets, "Secret")}
    assert rows["open-webui-secret"]["Encrypted file"] == "`apps/secrets/open-webui.sops.yaml`"
    assert rows["stable-diffusion-secret"]["Used by (env)"] == (
        "open-webui (`AUTOMATIC1111_API_PASSWORD`), stable-diffusion (`SD_WEBUI_PASSWORD`)"
    )
    assert "homelab-ai secrets init\nhomelab-ai secrets check\n" in secrets
    assert "kubectl create secret generic sops-age --namespace=flux-system --from-file=age.agekey=age.agekey" in (
        secrets
    )


def test_deploy_section_lists_flux_kustomizations_in_apply_order(page, homelab_objects):
    rows = _table(_section(page, "Deploying with Flux"), "Flux Kustomization")
    assert [r["Flux Kustomization"] for r in rows] == ["homelab-ai-infrastructure", "homelab-ai-apps"]
    flux = homelab_objects[("Kustomization", "homelab-ai-apps")]["spec"]
    assert rows[1]["Path"] == f"`{flux['path']}`"
    assert rows[1]["Depends on"] == flux["dependsOn"][0]["name"]
    assert "--source=GitRepository/flux-system --path=./dist/flux --prune=true" in page


def test_first_time_setup_names_the_model_pull_job_of_dist(page, homelab_objects):
    setup = _section(page, "First-time setup")
    job = next(name for kind, name in homelab_objects if kind == "Job" and name.startswith("ollama-pull-models-"))
    assert f"Declared models (`llama3.2`) are pulled by Job `{job}`" in setup
    assert f"kubectl logs -n ai job/{job} -f" in setup
    assert "kubectl exec -it -n ai ollama-0 -- ollama list" in setup


@pytest.mark.stack
def test_first_time_setup_shows_a_checkpoint_example_where_sd_reads_models(page):
    setup = _section(page, "First-time setup")
    assert "No checkpoint is declared" in setup
    assert 'sha256="31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b"' in setup
    assert "-o /app/stable-diffusion-webui/models/Stable-diffusion/my-model.safetensors" in setup
    assert 'curl -X POST -u "admin:$PASSWORD" http://10.10.2.26/sdapi/v1/refresh-checkpoints' in setup


def test_declared_checkpoints_are_listed_with_their_folder(repo_root, tmp_path):
    from homelab_ai import (
        Checkpoint,
        InternetEgress,
        SopsSecret,
        SopsSecretProps,
        StableDiffusion,
        StableDiffusionProps,
    )
    from tests.factories import write_encrypted_like_secret

    app, infra, ai = charts()
    secret_file = write_encrypted_like_secret(tmp_path / "sd.sops.yaml", "sd", ["password"])
    secret = SopsSecret(ai, "S", SopsSecretProps(name="sd", file=secret_file, keys=["password"]))
    lora = Checkpoint(url="https://example.org/a.safetensors", file_name="a.safetensors", sha256="ab" * 32, kind="lora")
    props = StableDiffusionProps(
        gpu=gpu(infra), vram=vram(0, 8, 12), secret=secret, checkpoints=[lora], model_downloads=InternetEgress()
    )
    StableDiffusion(ai, "SD", props)
    text = _docs(app, {"infrastructure": "infrastructure", "ai": "ai"}, repo_root)[PAGE]
    assert "| a.safetensors | lora | `Lora/a.safetensors` |" in text


def test_api_endpoints_reach_ollama_through_open_webui_and_sd_docs(page, homelab_objects):
    rows = {r["Service"]: r for r in _table(_section(page, "API endpoints"), "Service")}
    assert rows["ollama"]["From the LAN"] == "http://10.10.2.25 (via open-webui)"
    arbiter = {r["App"]: r for r in _table(_section(page, "VRAM arbiter"), "App")}
    assert arbiter["ollama"]["Forwards to"] == rows["ollama"]["In the cluster"]
    webui_env = homelab_objects[("Deployment", "open-webui")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "OLLAMA_BASE_URL", "value": arbiter["ollama"]["Through the arbiter"]} in webui_env
    assert rows["stable-diffusion"]["API docs"] == "http://10.10.2.26/docs"


@pytest.mark.stack
def test_mermaid_diagram_shows_services_volumes_and_the_shared_gpu(page):
    diagram = re.search(r"```mermaid\n(.*?)```", page, re.DOTALL).group(1)
    for service in ("svc_ollama", "svc_open_webui", "svc_stable_diffusion"):
        assert f"  {service}[" in diagram or f"    {service}[" in diagram
    for claim in ("pvc_ollama_models", "pvc_open_webui_data", "pvc_sd_data"):
        assert f"    {claim}[(" in diagram
    assert 'gpu0{{"NVIDIA RTX 4000 SFF<br/>24 GiB · 4 slices"}}' in diagram
    assert 'svc_ollama -.->|"8-16 GiB"| gpu0' in diagram
    assert "svc_open_webui --> svc_ollama" in diagram
    assert "svc_open_webui -.- arb_vram_arbiter" in diagram
    assert 'arb_vram_arbiter -.->|"admits"| svc_ollama' in diagram
    assert "svc_stable_diffusion --- pvc_sd_data" in diagram


def test_docs_refuse_an_invalid_chart_like_the_synth(repo_root, tmp_path):
    from homelab_ai import SopsSecret, SopsSecretProps

    app, _, ai = charts()
    SopsSecret(ai, "Missing", SopsSecretProps(name="missing", file=tmp_path / "nope.sops.yaml", keys=["k"]))
    with pytest.raises(SynthError, match="file is missing"):
        _docs(app, {"infrastructure": "infrastructure", "ai": "ai"}, repo_root)


@pytest.mark.stack
def test_write_docs_replaces_generated_pages_and_keeps_hand_written_files(tmp_path, rendered):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "library-guide.md").write_text("# hand written\n")
    (out / "old-namespace.md").write_text(f"{GENERATED_MARKER} from somewhere -->\n")
    removed = write_docs(list(rendered), out)
    assert removed == [out / "old-namespace.md"]
    assert sorted(p.name for p in out.iterdir()) == [PAGE, "library-guide.md"]
    assert (out / "library-guide.md").read_text() == "# hand written\n"


@pytest.mark.golden
@pytest.mark.stack
def test_docs_command_writes_the_committed_page(repo_root, tmp_path):
    """Drift check (golden): the CLI writes the committed page; its content is tested by the section tests."""
    result = run_cli_in_process(repo_root, "docs", str(tmp_path / "docs"))
    assert result.returncode == 0, result.stderr
    assert "wrote 1 page(s)" in result.stdout
    assert (tmp_path / "docs" / PAGE).read_bytes() == (repo_root / "docs" / PAGE).read_bytes()


def test_network_section_lists_each_policys_doors_as_in_dist(page, homelab_objects):
    rows = {r["Pods"]: r for r in _table(_section(page, "Network"), "Pods")}
    policies = {
        obj["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: obj["spec"]
        for (kind, _), obj in homelab_objects.items()
        if kind == "NetworkPolicy" and obj["spec"]["podSelector"]
    }
    assert set(rows) == set(policies)
    for name, spec in policies.items():
        clients = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in spec["ingress"]
            for peer in rule.get("from", [])
        }
        for client in clients:
            assert client in rows[name]["Accept connections from"], (name, client)
        if any("from" not in rule for rule in spec["ingress"]):
            assert rows[name]["Accept connections from"].startswith("anyone")
    assert rows["ollama"]["Accept connections from"] == "ollama-pull-models, vram-arbiter, on 11434"
    assert rows["vram-arbiter"]["Accept connections from"] == "open-webui, on 11434, 7860"
    assert rows["ollama-pull-models"]["May connect to"] == "DNS, ollama:11434"
