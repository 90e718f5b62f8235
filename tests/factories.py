"""Small, valid props for unit tests; each test changes only what it is about."""

from __future__ import annotations

from pathlib import Path

import cdk8s

from homelab_ai import (
    AppWorkloadProps,
    ComputeResources,
    ContainerImage,
    HealthCheck,
    SharedGpu,
    SharedGpuProps,
    VramEnvelope,
)


def charts() -> tuple[cdk8s.App, cdk8s.Chart, cdk8s.Chart]:
    """An app with a namespace-less infrastructure chart and a namespaced 'ai' chart."""
    app = cdk8s.App()
    infra = cdk8s.Chart(app, "infrastructure", disable_resource_name_hashes=True)
    ai = cdk8s.Chart(app, "ai", namespace="ai", disable_resource_name_hashes=True)
    return app, infra, ai


def gpu(scope: cdk8s.Chart, replicas: int = 4, vram_gib: float = 24) -> SharedGpu:
    return SharedGpu(scope, "Gpu", SharedGpuProps(card="Test GPU", vram_gib=vram_gib, replicas=replicas))


def app_props(name: str = "demo", **overrides) -> AppWorkloadProps:
    values = dict(
        name=name,
        image=ContainerImage(repository="example/demo", tag="1.0.0"),
        container_port=8000,
        resources=ComputeResources(cpu_request=1, cpu_limit=2, memory_request_gib=1, memory_limit_gib=2),
        health=HealthCheck(path="/healthz"),
    )
    values.update(overrides)
    return AppWorkloadProps(**values)


def vram(idle: float = 0, low: float = 4, high: float = 8) -> VramEnvelope:
    return VramEnvelope(idle_gib=idle, active_min_gib=low, active_max_gib=high)


def write_encrypted_like_secret(path: Path, name: str, keys: list[str], namespace: str = "ai") -> Path:
    """A file with the structure of a SOPS-encrypted Secret (values ENC[...]), no key needed to read it."""
    data = "\n".join(f"    {key}: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]" for key in keys)
    path.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n"
        f"    name: {name}\n    namespace: {namespace}\ntype: Opaque\nstringData:\n{data}\n"
        "sops:\n    age:\n        - recipient: age1xyz\n          enc: x\n"
        "    mac: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]\n    version: 3.11.0\n"
    )
    return path
