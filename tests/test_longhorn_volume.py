"""LonghornVolume: a PVC on Longhorn, typed size and access mode, mountable."""

from __future__ import annotations

import pytest

from homelab_ai import AccessMode, HomelabConfigError, LonghornVolume, LonghornVolumeProps
from homelab_ai.base.plus import kplus
from tests.factories import charts
from tests.helpers import synth


def test_claim_uses_longhorn_class_and_requested_size():
    app, _, ai = charts()
    LonghornVolume(ai, "V", LonghornVolumeProps(name="ollama-models", size_gib=100))
    pvc = synth(app)[("PersistentVolumeClaim", "ollama-models")]
    assert pvc["spec"]["storageClassName"] == "longhorn"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["namespace"] == "ai"


def test_storage_class_and_access_mode_are_settable():
    app, _, ai = charts()
    LonghornVolume(
        ai,
        "V",
        LonghornVolumeProps(
            name="shared", size_gib=5, storage_class="longhorn-rwx", access_mode=AccessMode.READ_WRITE_MANY
        ),
    )
    pvc = synth(app)[("PersistentVolumeClaim", "shared")]
    assert pvc["spec"]["storageClassName"] == "longhorn-rwx"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_mount_helper_mounts_claim_into_container():
    app, _, ai = charts()
    volume = LonghornVolume(ai, "V", LonghornVolumeProps(name="data", size_gib=1))
    deployment = kplus.Deployment(ai, "D")
    c = deployment.add_container(image="example/x:1")
    volume.mount(c, "/data", sub_path="inner")
    obj = next(o for (kind, _), o in synth(app).items() if kind == "Deployment")
    pod = obj["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data", "readOnly": False}}]
    assert pod["containers"][0]["volumeMounts"][0] == {
        "mountPath": "/data",
        "name": "data",
        "readOnly": False,
        "subPath": "inner",
    }


@pytest.mark.parametrize("size", [0, -5])
def test_refuses_zero_or_negative_size(size):
    with pytest.raises(HomelabConfigError, match=r"LonghornVolumeProps.size_gib.*whole number of 1 or more"):
        LonghornVolumeProps(name="data", size_gib=size)


def test_refuses_fractional_size():
    with pytest.raises(HomelabConfigError, match=r"LonghornVolumeProps.size_gib: 1.5 is not a whole number"):
        LonghornVolumeProps(name="data", size_gib=1.5)


@pytest.mark.parametrize("name", ["Ollama_Models", "-data", "data-", "a" * 64, ""])
def test_refuses_names_that_are_not_dns1123(name):
    with pytest.raises(HomelabConfigError, match=r"LonghornVolumeProps.name.*DNS-1123.*Fix:"):
        LonghornVolumeProps(name=name, size_gib=1)
