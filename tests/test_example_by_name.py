"""examples/by_name_with_sign_in.py: another repo's homelab.py with every routing and sign-in option on.

It is rendered in-process (its secrets made on the demo age key in a tmp folder, as `homelab-ai
secrets init` would) and held to what the spec's chart is held to: every object valid (custom
resources against the CRDs in crds/), checkov clean but for the skips .checkov.yaml names for
those objects (tests/test_checkov.py, in the same checkov run as the spec's chart), and a docs page
that lists each app's addresses, certificate and sign-in.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from examples.by_name_with_sign_in import build
from homelab_ai.base.contract import KnobKind
from homelab_ai.services.open_webui.contract import OPEN_WEBUI_CONTRACT
from homelab_ai.services.open_webui.oidc_login import SIGN_IN_ENV
from homelab_ai.synth.dist import render
from homelab_ai.synth.docs import render_docs
from tests.contract_checks import container_problems, pin_problems
from tests.crd_schemas import schema_problems
from tests.example_charts import with_demo_secrets
from tests.helpers import container, objects_by_key
from tests.yaml_io import load_yaml

# Renders a whole stack (an integration test): `make test` runs it, the unit tier leaves it out.
pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/by_name_with_sign_in.py"
GUIDE = "docs/library-guide.md"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("by-name")
    app, folders = with_demo_secrets(build, root)
    files = render(app, folders)
    docs = render_docs(app, folders, project_root=root, app_spec="homelab:build")
    return root, files, docs[0].content.decode()


@pytest.fixture(scope="module")
def objects(rendered):
    return objects_by_key(f for f in rendered[1] if not f.path.endswith(".sops.yaml"))


def _documents(files):
    for item in files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = load_yaml(item.content)
        doc.pop("sops", None)
        yield item.path, doc


def test_every_object_is_valid_kubernetes_or_matches_its_crd(rendered):
    failures = [f"{path}: {problem}" for path, doc in _documents(rendered[1]) for problem in schema_problems(doc)]
    assert failures == []


def test_it_routes_both_names_through_the_gateway_with_one_certificate(objects):
    routes = {name: obj for (kind, name), obj in objects.items() if kind == "HTTPRoute"}
    assert sorted(routes) == ["open-webui", "open-webui-redirect", "stable-diffusion", "stable-diffusion-redirect"]
    assert objects[("Certificate", "ai-tls")]["spec"]["dnsNames"] == [
        "chat.home.example.com",
        "images.home.example.com",
    ]
    assert objects[("ReferenceGrant", "ai-tls")]["spec"]["from"][0]["namespace"] == "gateway"
    assert [kind for kind, _ in objects if kind == "Gateway"] == []  # the cluster's own Gateway is used


def test_stable_diffusions_name_leads_to_the_sign_in_proxy_and_nothing_else_does(objects):
    route = objects[("HTTPRoute", "stable-diffusion")]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "stable-diffusion-sign-in", "port": 4180}]
    assert objects[("Service", "stable-diffusion")]["spec"]["type"] == "ClusterIP"
    assert "--gradio-auth" not in container(objects[("Deployment", "stable-diffusion")])["args"]


def test_open_webui_signs_in_through_the_provider_only(objects):
    env = {e["name"]: e.get("value") for e in container(objects[("Deployment", "open-webui")])["env"]}
    assert env["OPENID_PROVIDER_URL"] == (
        "https://auth.home.example.com/application/o/homelab-ai/.well-known/openid-configuration"
    )
    assert (env["ENABLE_LOGIN_FORM"], env["ENABLE_PASSWORD_AUTH"]) == ("false", "false")
    assert env["WEBUI_URL"] == "https://chat.home.example.com"


@pytest.mark.parametrize("kind", [k for k in KnobKind if k is not KnobKind.CHART_VALUE], ids=lambda k: k.name.lower())
def test_every_knob_its_containers_turn_is_in_their_apps_upstream_contract(objects, kind):
    """The same contract check as dist/'s (test_upstream_contract.py): oauth2-proxy and the OIDC env included."""
    assert container_problems(objects.values(), kind) == []


def test_every_container_runs_its_contracts_pin(objects):
    assert pin_problems(objects.values()) == []


def test_every_sign_in_setting_open_webui_may_get_has_a_row_in_its_contract():
    assert set(SIGN_IN_ENV) <= OPEN_WEBUI_CONTRACT.named(KnobKind.ENV)


def test_the_sign_in_secret_is_copied_encrypted(rendered):
    root, files, _ = rendered
    (secret,) = [f for f in files if f.path == "ai/secret-sign-in.sops.yaml"]
    assert secret.content == (root / "secrets/sign-in.sops.yaml").read_bytes()
    assert b"demo-oidc-client-secret" not in secret.content


def test_its_docs_list_each_apps_addresses_certificate_and_sign_in(rendered):
    page = rendered[2]
    access = re.search(r"^## Access\n(.*?)(?=^## )", page, re.MULTILINE | re.DOTALL).group(1)
    rows = {line.split("|")[1].strip(): line for line in access.splitlines() if line.startswith("| ")}
    assert "http://192.168.1.240" in rows["open-webui"] and "https://chat.home.example.com" in rows["open-webui"]
    assert "https://images.home.example.com" in rows["stable-diffusion"]
    assert "Certificate `ai-tls` from cert-manager ClusterIssuer `letsencrypt`" in rows["open-webui"]
    assert "no email/password login" in rows["open-webui"]
    assert "oauth2-proxy `stable-diffusion-sign-in` (members of `image-makers`)" in rows["stable-diffusion"]
    assert "https://images.home.example.com/oauth2/callback" in access
    assert "https://chat.home.example.com/oauth/oidc/login/callback" in access


def test_its_diagram_shows_the_route_from_the_lan_through_the_gateway(rendered):
    diagram = re.search(r"```mermaid\n(.*?)```", rendered[2], re.DOTALL).group(1)
    assert 'route0(["Gateway gateway/homelab"])' in diagram
    assert "lan -->|HTTPS| route0" in diagram
    assert 'route0 -->|"chat.home.example.com"| svc_open_webui' in diagram
    assert 'route0 -->|"images.home.example.com"| svc_stable_diffusion_sign_in' in diagram
    assert "svc_stable_diffusion_sign_in --> svc_stable_diffusion" in diagram


def test_the_guide_shows_the_example_verbatim():
    guide = (REPO_ROOT / GUIDE).read_text()
    match = re.search(rf"<!-- example: {re.escape(EXAMPLE)} -->\n```python\n(.*?)```", guide, re.DOTALL)
    assert match, f"{GUIDE} has no example block for {EXAMPLE}"
    assert match.group(1) == (REPO_ROOT / EXAMPLE).read_text()


def test_the_example_needs_only_the_installed_library():
    tree = ast.parse((REPO_ROOT / EXAMPLE).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported == {"__future__", "pathlib", "cdk8s", "homelab_ai"}
