"""The checkpoint download script, run for real against a local file server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.fake_servers import FileServer, run_script

# The slow tier (`make test-fast` leaves it out): runs the in-pod script against a fake server.
pytestmark = pytest.mark.slow

GOOD = b"safetensors bytes " * 1000
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
OTHER_SHA = hashlib.sha256(b"something else").hexdigest()


def _entry(server: FileServer, path: str, sha256: str, folder="Stable-diffusion", file_name="model.safetensors"):
    return {"url": f"{server.url}{path}", "folder": folder, "file_name": file_name, "sha256": sha256}


def _fetch(models: Path, *entries: dict) -> subprocess.CompletedProcess[str]:
    return run_script(
        "sd_fetch_models.py", "--models-dir", str(models), "--checkpoints", json.dumps(list(entries)),
        "--progress-seconds", "0",
    )  # fmt: skip


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_good_file_lands_under_its_final_name_and_nothing_else(tmp_path):
    with FileServer({"/model.safetensors": GOOD}) as server:
        result = _fetch(tmp_path, _entry(server, "/model.safetensors", GOOD_SHA))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "Stable-diffusion/model.safetensors").read_bytes() == GOOD
    assert _files(tmp_path) == ["Stable-diffusion/model.safetensors"]
    assert "Stable-diffusion/model.safetensors: downloaded 18.0 KB, sha256 ok" in result.stdout


def test_download_progress_is_logged(tmp_path):
    with FileServer({"/model.safetensors": GOOD}) as server:
        result = _fetch(tmp_path, _entry(server, "/model.safetensors", GOOD_SHA))
    assert "Stable-diffusion/model.safetensors: 100% (18.0 KB/18.0 KB)" in result.stdout


def test_bad_checksum_leaves_nothing_behind_and_names_the_file_and_both_hashes(tmp_path):
    with FileServer({"/model.safetensors": GOOD}) as server:
        result = _fetch(tmp_path, _entry(server, "/model.safetensors", OTHER_SHA))
    assert result.returncode == 1
    assert _files(tmp_path) == []  # no final file, no .part
    assert (
        f"sha256 mismatch for Stable-diffusion/model.safetensors: declared {OTHER_SHA}, downloaded {GOOD_SHA}"
        in result.stdout
    )


def test_rerun_with_the_file_present_makes_no_request(tmp_path):
    with FileServer({"/model.safetensors": GOOD}) as server:
        first = _fetch(tmp_path, _entry(server, "/model.safetensors", GOOD_SHA))
        requests_after_first = len(server.requests)
        second = _fetch(tmp_path, _entry(server, "/model.safetensors", GOOD_SHA))
    assert (first.returncode, second.returncode) == (0, 0)
    assert requests_after_first == 1
    assert len(server.requests) == 1
    assert "Stable-diffusion/model.safetensors: present, sha256 ok, skipped" in second.stdout


def test_present_file_with_another_checksum_is_replaced_by_the_declared_one(tmp_path):
    target = tmp_path / "Stable-diffusion/model.safetensors"
    target.parent.mkdir()
    target.write_bytes(b"truncated by a crash")
    with FileServer({"/model.safetensors": GOOD}) as server:
        result = _fetch(tmp_path, _entry(server, "/model.safetensors", GOOD_SHA))
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_bytes() == GOOD
    assert "present but its sha256 is" in result.stdout


def test_each_kind_lands_in_its_folder_created_as_needed(tmp_path):
    with FileServer({"/a": GOOD}) as server:
        result = _fetch(
            tmp_path,
            _entry(server, "/a", GOOD_SHA, folder="Lora", file_name="style.safetensors"),
            _entry(server, "/a", GOOD_SHA, folder="VAE", file_name="vae.safetensors"),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _files(tmp_path) == ["Lora/style.safetensors", "VAE/vae.safetensors"]


def test_missing_url_fails_leaving_nothing_and_other_files_still_land(tmp_path):
    with FileServer({"/good": GOOD}) as server:
        result = _fetch(
            tmp_path,
            _entry(server, "/gone", GOOD_SHA, file_name="gone.safetensors"),
            _entry(server, "/good", GOOD_SHA, file_name="good.safetensors"),
        )
    assert result.returncode == 1
    assert "download of Stable-diffusion/gone.safetensors from" in result.stdout
    assert "HTTP 404" in result.stdout
    assert _files(tmp_path) == ["Stable-diffusion/good.safetensors"]


def test_list_is_read_from_the_environment_the_init_container_sets(tmp_path):
    with FileServer({"/m": GOOD}) as server:
        env = dict(os.environ, SD_CHECKPOINTS=json.dumps([_entry(server, "/m", GOOD_SHA)]))
        result = run_script("sd_fetch_models.py", "--models-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _files(tmp_path) == ["Stable-diffusion/model.safetensors"]


def test_file_name_with_a_folder_in_it_is_refused_before_any_download(tmp_path):
    with FileServer({"/m": GOOD}) as server:
        result = _fetch(tmp_path, _entry(server, "/m", GOOD_SHA, file_name="../escape.safetensors"))
        assert server.requests == []
    assert result.returncode == 2
    assert "bad checkpoint list" in result.stdout
    assert not (tmp_path.parent / "escape.safetensors").exists()


def test_url_query_string_is_kept_out_of_the_log(tmp_path):
    with FileServer({"/m": GOOD}) as server:
        entry = _entry(server, "/m?token=s3cret", GOOD_SHA)
        result = _fetch(tmp_path, entry)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3cret" not in result.stdout
