"""AiStack with its opt-in routing, host names and sign-in: what the stack wires, and which combinations it refuses.

The spec's chart sets none of these, so its dist/ is what it was (test_dist.py holds it byte for byte).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import cdk8s
import pytest

from apps.homelab import site
from homelab_ai import (
    AiStack,
    CertIssuer,
    GatewayListener,
    HomelabConfigError,
    IngressClass,
    OidcProvider,
    PodSelector,
    RouteTls,
    Routing,
    SignIn,
)
from homelab_ai.secrets.sops_secret import sops_secrets
from homelab_ai.synth.docs import render_docs
from tests.factories import write_encrypted_like_secret
from tests.helpers import container, synth

ROUTING = Routing(
    via=IngressClass(),
    controller=PodSelector(labels={"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx"),
    tls=RouteTls(issuer=CertIssuer(name="letsencrypt")),
)
SIGN_IN = SignIn(provider=OidcProvider(issuer_url="https://auth.example.com/"), client_id="homelab-ai")
NAMES = {"open_webui_hostname": "chat.example.com", "stable_diffusion_hostname": "images.example.com"}


def _props(tmp_path: Path, **changes):
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    write_encrypted_like_secret(secrets / "open-webui.sops.yaml", "open-webui-secret", ["WEBUI_SECRET_KEY"])
    write_encrypted_like_secret(secrets / "stable-diffusion.sops.yaml", "stable-diffusion-secret", ["password"])
    write_encrypted_like_secret(secrets / "sign-in.sops.yaml", "sign-in", ["client-secret", "cookie-secret"])
    return attrs.evolve(site(), secrets_dir=secrets, **changes)


def _stack(tmp_path: Path, **changes) -> AiStack:
    return AiStack(cdk8s.App(), "Homelab", _props(tmp_path, **changes))


@attrs.frozen
class Built:
    """A stack built once for the module, its objects synthesized once, and the folder its secrets are in."""

    stack: AiStack
    objects: dict[tuple[str, str], dict]
    folder: Path


def _built(tmp_path_factory: pytest.TempPathFactory, **changes) -> Built:
    folder = tmp_path_factory.mktemp("stack")
    stack = _stack(folder, **changes)
    return Built(stack, synth(stack.app, stack.folders), folder)


@pytest.fixture(scope="module")
def by_name(tmp_path_factory) -> Built:
    """Both apps by name behind an ingress with a certificate, no sign-in: read it, don't change it."""
    return _built(tmp_path_factory, routing=ROUTING, **NAMES)


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory) -> Built:
    """Both apps by name, and the sign-in in front of them: read it, don't change it."""
    return _built(tmp_path_factory, routing=ROUTING, sign_in=SIGN_IN, **NAMES)


def _refused(tmp_path: Path, **changes) -> HomelabConfigError:
    with pytest.raises(HomelabConfigError) as caught:
        _props(tmp_path, **changes)
    return caught.value


def test_the_spec_sets_no_route_no_host_name_and_no_sign_in():
    props = site()
    assert (props.routing, props.open_webui_hostname, props.stable_diffusion_hostname, props.sign_in) == (
        None,
        None,
        None,
        None,
    )


def test_a_host_name_without_routing_is_refused(tmp_path):
    assert _refused(tmp_path, open_webui_hostname="chat.example.com").field == "AiStackProps.open_webui_hostname"


def test_routing_without_a_host_name_is_refused(tmp_path):
    assert _refused(tmp_path, routing=ROUTING).field == "AiStackProps.routing"


def test_one_host_name_for_both_apps_is_refused(tmp_path):
    error = _refused(
        tmp_path, routing=ROUTING, open_webui_hostname="ai.example.com", stable_diffusion_hostname="ai.example.com"
    )
    assert error.field == "AiStackProps.stable_diffusion_hostname"


def test_an_app_with_neither_a_lan_address_nor_a_host_name_is_refused(tmp_path):
    error = _refused(tmp_path, stable_diffusion_address=None, routing=ROUTING, open_webui_hostname="chat.example.com")
    assert error.field == "AiStackProps.stable_diffusion_address"


def test_sign_in_without_open_webuis_host_name_is_refused(tmp_path):
    error = _refused(tmp_path, sign_in=SIGN_IN, routing=ROUTING, stable_diffusion_hostname="images.example.com")
    assert error.field == "AiStackProps.sign_in"


@pytest.mark.stack
def test_both_names_share_one_certificate(by_name):
    objects = by_name.objects
    assert objects[("Certificate", "ai-tls")]["spec"]["dnsNames"] == ["chat.example.com", "images.example.com"]
    assert {objects[("Ingress", n)]["spec"]["tls"][0]["secretName"] for n in ("open-webui", "stable-diffusion")} == {
        "ai-tls"
    }


@pytest.mark.stack
def test_with_sign_in_stable_diffusions_name_leads_to_the_sign_in_proxy(signed_in):
    objects = signed_in.objects
    backend = objects[("Ingress", "stable-diffusion")]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "stable-diffusion-sign-in", "port": {"number": 4180}}}


@pytest.mark.stack
def test_stable_diffusion_keeps_its_password_while_it_has_a_lan_address(signed_in):
    assert "--gradio-auth" in container(signed_in.objects[("Deployment", "stable-diffusion")])["args"]


@pytest.mark.stack
def test_stable_diffusion_by_name_only_behind_the_proxy_asks_for_no_second_password(tmp_path):
    stack = _stack(tmp_path, routing=ROUTING, sign_in=SIGN_IN, stable_diffusion_address=None, **NAMES)
    objects = synth(stack.app, stack.folders)
    assert "--gradio-auth" not in container(objects[("Deployment", "stable-diffusion")])["args"]
    assert objects[("Service", "stable-diffusion")]["spec"]["type"] == "ClusterIP"


@pytest.mark.stack
def test_the_sign_in_secret_holds_the_client_secret_and_a_generated_cookie_key(signed_in):
    (secret,) = [s for s in sops_secrets(signed_in.stack.app) if s.name == "sign-in"]
    assert secret.file == signed_in.folder / "secrets/sign-in.sops.yaml"
    assert secret.keys == ("client-secret", "cookie-secret")
    assert secret.props.generators == {"cookie-secret": "base64url32"}


@pytest.mark.stack
def test_without_stable_diffusions_name_there_is_no_proxy_and_no_cookie_key(tmp_path):
    stack = _stack(tmp_path, routing=ROUTING, sign_in=SIGN_IN, open_webui_hostname="chat.example.com")
    (secret,) = [s for s in sops_secrets(stack.app) if s.name == "sign-in"]
    assert secret.keys == ("client-secret",)
    assert stack.sign_in_proxy is None


@pytest.mark.stack
def test_open_webui_off_the_lan_sends_its_cookies_over_https_only(tmp_path):
    stack = _stack(
        tmp_path,
        routing=attrs.evolve(ROUTING, via=GatewayListener(gateway="homelab", namespace="gateway"), tls=None),
        open_webui_address=None,
        open_webui_hostname="chat.example.com",
    )
    env = {
        e["name"]: e.get("value")
        for e in container(synth(stack.app, stack.folders)[("Deployment", "open-webui")])["env"]
    }
    assert env["WEBUI_SESSION_COOKIE_SECURE"] == "true"
    assert env["WEBUI_URL"] == "https://chat.example.com"


@pytest.mark.stack
def test_the_docs_of_an_ingress_stack_say_how_long_requests_stay_open_and_how_sd_gets_the_sign_in(by_name):
    stack = by_name.stack
    (page,) = render_docs(stack.app, stack.folders, project_root=by_name.folder, app_spec="homelab:build")
    text = page.content.decode()
    assert "a request or websocket may stay open 1h without traffic, uploads up to 100 MiB" in text
    assert "`nginx.ingress.kubernetes.io/proxy-read-timeout`" in text
    assert "**One sign-in for stable-diffusion**" in text
    assert "| stable-diffusion | http://10.10.2.26 | https://images.example.com |" in text
