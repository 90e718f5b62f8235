"""LoadBalancer: a fixed IP and port, in MetalLB, Cilium or kube-vip dialect."""

from __future__ import annotations

import pytest

from homelab_ai import AppWorkload, HomelabConfigError, LbProvider, LoadBalancer, SynthError
from homelab_ai.synth.dist import render
from tests.factories import app_props, charts
from tests.helpers import synth


def _service(lb: LoadBalancer) -> dict:
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(expose=lb))
    return synth(app)[("Service", "demo")]


def test_metallb_annotation_by_default():
    svc = _service(LoadBalancer(ip="10.10.2.25", port=80))
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "10.10.2.25"}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8000}]
    assert "loadBalancerIP" not in svc["spec"]


def test_cilium_lb_ipam_annotation():
    svc = _service(LoadBalancer(ip="10.0.0.9", provider=LbProvider.CILIUM))
    assert svc["metadata"]["annotations"] == {"lbipam.cilium.io/ips": "10.0.0.9"}


def test_kube_vip_annotation():
    svc = _service(LoadBalancer(ip="10.0.0.9", provider=LbProvider.KUBE_VIP))
    assert svc["metadata"]["annotations"] == {"kube-vip.io/loadbalancerIPs": "10.0.0.9"}


def test_deprecated_spec_field_only_when_asked():
    svc = _service(LoadBalancer(ip="10.0.0.9", use_deprecated_spec_field=True))
    assert svc["spec"]["loadBalancerIP"] == "10.0.0.9"


def test_sharing_key_becomes_provider_annotation():
    svc = _service(LoadBalancer(ip="10.0.0.9", sharing_key="web"))
    assert svc["metadata"]["annotations"]["metallb.io/allow-shared-ip"] == "web"


@pytest.mark.parametrize("ip", ["10.10.2", "10.10.2.256", "10.10.2.0/24", "nas.local", ""])
def test_refuses_ip_that_is_not_ipv4(ip):
    with pytest.raises(HomelabConfigError, match=r"LoadBalancer.ip: .* is not an IPv4 address\. Fix:"):
        LoadBalancer(ip=ip)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_refuses_port_out_of_range(port):
    with pytest.raises(HomelabConfigError, match=r"LoadBalancer.port.*1 and 65535"):
        LoadBalancer(ip="10.0.0.1", port=port)


def test_refuses_two_services_on_one_ip_and_port():
    app, _, ai = charts()
    AppWorkload(ai, "A", app_props("first", expose=LoadBalancer(ip="10.10.2.25", port=80)))
    AppWorkload(ai, "B", app_props("second", expose=LoadBalancer(ip="10.10.2.25", port=80)))
    with pytest.raises(SynthError, match=r"'second' and 'first' both ask for 10\.10\.2\.25:80"):
        render(app, {"infrastructure": "infra", "ai": "ai"})


def test_refuses_shared_ip_without_common_sharing_key():
    app, _, ai = charts()
    AppWorkload(ai, "A", app_props("first", expose=LoadBalancer(ip="10.10.2.25", port=80)))
    AppWorkload(ai, "B", app_props("second", expose=LoadBalancer(ip="10.10.2.25", port=443)))
    with pytest.raises(SynthError, match=r"sharing_key: 'first', 'second' share 10\.10\.2\.25"):
        render(app, {"infrastructure": "infra", "ai": "ai"})


def test_shared_ip_with_common_key_on_different_ports_is_fine():
    app, _, ai = charts()
    AppWorkload(ai, "A", app_props("first", expose=LoadBalancer(ip="10.10.2.25", port=80, sharing_key="web")))
    AppWorkload(ai, "B", app_props("second", expose=LoadBalancer(ip="10.10.2.25", port=443, sharing_key="web")))
    objects = synth(app)
    assert objects[("Service", "second")]["spec"]["ports"][0]["port"] == 443
