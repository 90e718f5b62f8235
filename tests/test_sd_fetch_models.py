"""The checkpoint download script against a local file server on 127.0.0.1.

Most tests call main() in this process (fast, and what `make mutate` measures); the environment
test runs it as the init container does, in a bare interpreter.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from homelab_ai.services.stable_diffusion import sd_fetch_models
from homelab_ai.services.stable_diffusion.sd_fetch_models import Entry, Progress, redact
from tests.fake_servers import FileServer, run_script
from tests.test_ollama_pull import Run

GOOD = b"safetensors bytes " * 1000
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
OTHER_SHA = hashlib.sha256(b"something else").hexdigest()


def _entry(server: FileServer, path: str, sha256: str, folder="Stable-diffusion", file_name="model.safetensors"):
    return {"url": f"{server.url}{path}", "folder": folder, "file_name": file_name, "sha256": sha256}


def _fetch(models: Path, *entries: dict) -> Run:
    out = io.StringIO()
    argv = ["--models-dir", str(models), "--checkpoints", json.dumps(list(entries)), "--progress-seconds", "0"]
    with contextlib.redirect_stdout(out):
        code = sd_fetch_models.main(argv)
    return Run(code, out.getvalue())


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


@pytest.mark.slow
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


def test_the_list_must_be_a_json_list(tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = sd_fetch_models.main(["--models-dir", str(tmp_path), "--checkpoints", '{"url": "x"}'])
    assert code == 2
    assert out.getvalue() == "sd-fetch: ERROR: bad checkpoint list: the checkpoint list must be a JSON list\n"


def _raw(**changes: str) -> dict:
    return {"url": "http://x/y", "folder": "Lora", "file_name": "a", "sha256": "a" * 64, **changes}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not an object", "each entry must be an object, got 'not an object'"),
        (_raw(url="ftp://x/y"), "'ftp://x/y' is not an http(s) URL"),
        (_raw(folder="../up"), "'../up' is not a plain file or folder name"),
        (_raw(file_name=".a"), "'.a' is not a plain file or folder name"),
        (_raw(sha256="a" * 63), f"'{'a' * 63}' is not a sha256 (64 hex characters)"),
    ],
)
def test_an_entry_is_checked_again_in_the_pod(raw, problem):
    with pytest.raises(ValueError) as caught:
        Entry(raw)
    assert str(caught.value) == problem


def test_an_entry_takes_an_upper_case_sha256_and_names_itself_by_folder():
    entry = Entry({"url": "https://x/y", "folder": "VAE", "file_name": "v.pt", "sha256": "A" * 64})
    assert (entry.sha256, entry.label, entry.url) == ("a" * 64, "VAE/v.pt", "https://x/y")


def test_redact_drops_credentials_and_query_string():
    assert redact("https://user:pw@host.example/a/b.safetensors?token=x#f") == "https://host.example/a/b.safetensors"


def test_progress_logs_once_per_interval_with_a_percentage(capsys):
    now = [0.0]
    progress = Progress("VAE/v.pt", total=1000, interval=10, clock=lambda: now[0])
    progress.update(100)  # within the interval: quiet
    now[0] = 10
    progress.update(500)
    now[0] = 15
    progress.update(600)  # 5 s after the last line: quiet
    now[0] = 20
    progress.update(2000)  # more than announced: capped at 100%
    assert capsys.readouterr().out.splitlines() == [
        "sd-fetch: VAE/v.pt: 50% (500 B/1.0 KB)",
        "sd-fetch: VAE/v.pt: 100% (2.0 KB/1.0 KB)",
    ]


def test_progress_without_a_length_logs_the_bytes_so_far(capsys):
    progress = Progress("Lora/a", total=None, interval=0, clock=lambda: 5.0)
    progress.update(1_500_000)
    assert capsys.readouterr().out == "sd-fetch: Lora/a: 1.5 MB\n"


def test_every_file_present_ends_with_a_summary(tmp_path):
    with FileServer({"/a": GOOD, "/b": GOOD}) as server:
        result = _fetch(
            tmp_path, _entry(server, "/a", GOOD_SHA, file_name="a"), _entry(server, "/b", GOOD_SHA, file_name="b")
        )
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "sd-fetch: all 2 declared file(s) present"


def test_a_failure_is_summed_up_with_every_file_that_failed(tmp_path):
    with FileServer({"/good": GOOD}) as server:
        result = _fetch(
            tmp_path,
            _entry(server, "/gone", GOOD_SHA, file_name="gone"),
            _entry(server, "/good", OTHER_SHA, file_name="bad"),
            _entry(server, "/good", GOOD_SHA, file_name="good"),
        )
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        "sd-fetch: FAILED: 2 of 3 file(s) not in place: Stable-diffusion/gone, Stable-diffusion/bad"
    )


def test_help_names_every_option_with_its_default(capsys, monkeypatch):
    from tests.test_ollama_pull import _help

    text = _help(capsys, monkeypatch, sd_fetch_models.main)
    for part in [
        "Download the declared Stable Diffusion files into models/, verified by sha256, before the web UI starts.",
        "--models-dir MODELS_DIR the web UI's models/ folder",
        "--checkpoints CHECKPOINTS JSON list of files (default: the SD_CHECKPOINTS variable)",
        "--timeout-seconds TIMEOUT_SECONDS socket timeout of one read (default: 300 s)",
        "--progress-seconds PROGRESS_SECONDS at most one progress line per interval (default: 15 s)",
    ]:
        assert part in text


def test_the_models_folder_is_required(capsys):
    with pytest.raises(SystemExit) as done:
        sd_fetch_models.main([])
    assert done.value.code == 2
    assert "the following arguments are required: --models-dir" in capsys.readouterr().err


def _main(*argv: str) -> Run:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = sd_fetch_models.main(list(argv))
    return Run(code, out.getvalue())


def test_the_list_comes_from_sd_checkpoints_when_no_option_gives_it(tmp_path, monkeypatch):
    with FileServer({"/m": GOOD}) as server:
        monkeypatch.setenv("SD_CHECKPOINTS", json.dumps([_entry(server, "/m", GOOD_SHA)]))
        result = _main("--models-dir", str(tmp_path), "--timeout-seconds", "5", "--progress-seconds", "1")
    assert result.returncode == 0, result.stdout
    assert _files(tmp_path) == ["Stable-diffusion/model.safetensors"]


def test_the_option_wins_over_the_variable_and_no_list_at_all_is_an_empty_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SD_CHECKPOINTS", "not json")
    assert _main("--models-dir", str(tmp_path), "--checkpoints", "[]").stdout == (
        "sd-fetch: all 0 declared file(s) present\n"
    )
    monkeypatch.delenv("SD_CHECKPOINTS")
    assert _main("--models-dir", str(tmp_path)).returncode == 0


def test_the_download_says_who_it_is(tmp_path):
    with FileServer({"/m": GOOD}) as server:
        _fetch(tmp_path, _entry(server, "/m", GOOD_SHA))
    assert server.headers[0]["User-Agent"] == "homelab-ai-sd-fetch/1"


@pytest.mark.slow
def test_a_server_that_never_answers_fails_after_the_timeout(tmp_path):
    from tests.fake_servers import SilentServer

    with SilentServer() as silent:
        entry = {"url": f"{silent.url}/m", "folder": "Lora", "file_name": "m", "sha256": GOOD_SHA}
        result = _main("--models-dir", str(tmp_path), "--checkpoints", json.dumps([entry]), "--timeout-seconds", "0.2")
    assert result.returncode == 1
    assert "download of Lora/m from" in result.stdout and "timed out" in result.stdout
    assert _files(tmp_path) == []


def test_the_models_folder_and_its_parents_are_created_when_missing(tmp_path):
    models = tmp_path / "fresh/models"
    with FileServer({"/m": GOOD}) as server:
        result = _fetch(models, _entry(server, "/m", GOOD_SHA))
    assert result.returncode == 0, result.stdout
    assert _files(tmp_path) == ["fresh/models/Stable-diffusion/model.safetensors"]


SMALL = b"x" * 500
SMALL_SHA = hashlib.sha256(SMALL).hexdigest()


def test_a_small_download_is_logged_line_by_line_without_its_query_string(tmp_path):
    with FileServer({"/m": SMALL}) as server:
        result = _fetch(tmp_path, _entry(server, "/m?token=s3cret", SMALL_SHA, folder="Lora", file_name="a"))
    assert result.stdout.splitlines() == [
        f"sd-fetch: Lora/a: downloading from {server.url}/m",
        "sd-fetch: Lora/a: 100% (500 B/500 B)",
        "sd-fetch: Lora/a: downloaded 500 B, sha256 ok",
        "sd-fetch: all 1 declared file(s) present",
    ]


def test_a_large_download_is_read_and_reported_a_mebibyte_at_a_time(tmp_path):
    big = bytes(range(256)) * (10 * 1024)  # 2.5 MiB: two whole chunks of 1 MiB and a half one
    with FileServer({"/m": big}) as server:
        result = _fetch(tmp_path, _entry(server, "/m", hashlib.sha256(big).hexdigest(), folder="VAE", file_name="v"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[1:4] == [
        "sd-fetch: VAE/v: 40% (1.0 MB/2.6 MB)",
        "sd-fetch: VAE/v: 80% (2.1 MB/2.6 MB)",
        "sd-fetch: VAE/v: 100% (2.6 MB/2.6 MB)",
    ]
    assert "sd-fetch: VAE/v: downloaded 2.6 MB, sha256 ok" in result.stdout
    assert (tmp_path / "VAE/v").read_bytes() == big


def test_a_download_without_a_length_logs_the_bytes_so_far(tmp_path):
    with FileServer({"/m": SMALL}, chunked=("/m",)) as server:
        result = _fetch(tmp_path, _entry(server, "/m", SMALL_SHA, folder="Lora", file_name="a"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[1:3] == [
        "sd-fetch: Lora/a: 500 B",
        "sd-fetch: Lora/a: downloaded 500 B, sha256 ok",
    ]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (1_000_000, "1.0 MB"), (6.5e9, "6.5 GB"), (2e12, "2.0 TB")],
)
def test_sizes_are_shown_in_powers_of_a_thousand(count, text):
    assert sd_fetch_models.human_bytes(count) == text


def test_redact_drops_a_password_that_holds_an_at_sign():
    assert redact("https://user:p@ss@host.example/m.safetensors") == "https://host.example/m.safetensors"


def test_progress_percent_is_rounded_down(capsys):
    Progress("VAE/v.pt", total=3, interval=0, clock=lambda: 5.0).update(2)
    assert capsys.readouterr().out == "sd-fetch: VAE/v.pt: 66% (2 B/3 B)\n"


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("url", "'' is not an http(s) URL"),
        ("folder", "'' is not a plain file or folder name"),
        ("file_name", "'' is not a plain file or folder name"),
        ("sha256", "None is not a sha256 (64 hex characters)"),
    ],
)
def test_an_entry_missing_a_key_is_refused_naming_it_empty(missing, problem):
    raw = {key: value for key, value in _raw().items() if key != missing}
    with pytest.raises(ValueError) as caught:
        Entry(raw)
    assert str(caught.value) == problem
