"""The model-pull script, run for real against a fake Ollama on 127.0.0.1."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from homelab_ai.services.ollama.ollama_pull import Progress, normalize
from tests.fake_servers import SCRIPT_TIMEOUT, SCRIPTS, FakeOllama, free_port, run_script

GIB = 1024**3


def _pull(server_url: str, *models: str, wait: str = "10") -> subprocess.CompletedProcess[str]:
    return run_script(
        "ollama_pull.py", "--server", server_url, "--wait-seconds", wait, "--poll-seconds", "0.1",
        "--progress-seconds", "0", *models,
    )  # fmt: skip


@pytest.mark.slow
def test_present_model_is_skipped_without_a_pull():
    with FakeOllama(present=["llama3.2:latest"]) as ollama:
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llama3.2: already present, skipped" in result.stdout
    assert ollama.pulls() == []


@pytest.mark.slow
def test_missing_model_is_pulled_with_streamed_progress_in_the_log():
    with FakeOllama(pullable={"qwen2.5:14b": 9 * GIB}) as ollama:
        result = _pull(ollama.url, "qwen2.5:14b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ollama.pulls() == [{"model": "qwen2.5:14b", "stream": True}]
    log = result.stdout
    assert "qwen2.5:14b: pulling manifest" in log
    assert "qwen2.5:14b: pulling 6a0746a1ec1a 50% (4.8 GB/9.7 GB)" in log
    assert "qwen2.5:14b: pulling 6a0746a1ec1a 100% (9.7 GB/9.7 GB)" in log
    assert "qwen2.5:14b: ready" in log
    assert "all 1 declared model(s) present" in log


@pytest.mark.slow
def test_only_the_missing_models_of_a_list_are_pulled():
    with FakeOllama(present=["llama3.2:latest"], pullable={"mistral": GIB}) as ollama:
        result = _pull(ollama.url, "llama3.2:latest", "mistral")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p["model"] for p in ollama.pulls()] == ["mistral"]


@pytest.mark.slow
def test_unknown_model_fails_naming_the_model_and_ollamas_error():
    with FakeOllama(pullable={"llama3.2": GIB}) as ollama:
        result = _pull(ollama.url, "no-such-model:7b", "llama3.2")
    assert result.returncode == 1
    assert "could not pull model 'no-such-model:7b': pull model manifest: file does not exist" in result.stdout
    assert "FAILED: 1 of 2 model(s) not pulled: no-such-model:7b" in result.stdout
    assert "llama3.2: ready" in result.stdout  # one bad name does not stop the others


@pytest.mark.slow
def test_http_error_from_the_server_fails_naming_the_model():
    with FakeOllama(broken={"llama3.2"}) as ollama:
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': the server answered HTTP 500: registry unreachable" in result.stdout


@pytest.mark.slow
def test_server_that_is_not_up_yet_is_waited_for():
    port = free_port()
    command = [sys.executable, "-I", str(SCRIPTS["ollama_pull.py"]), "--server", f"http://127.0.0.1:{port}",
               "--wait-seconds", str(SCRIPT_TIMEOUT), "--poll-seconds", "0.1", "llama3.2"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        first = process.stdout.readline()  # the script reports that it waits before anything listens
        with FakeOllama(present=["llama3.2:latest"], port=port):
            rest, _ = process.communicate(timeout=SCRIPT_TIMEOUT)
    assert f"waiting for Ollama at http://127.0.0.1:{port}" in first
    assert process.returncode == 0, rest
    assert "Ollama 0.32.15 is up" in rest
    assert "llama3.2: already present, skipped" in rest


@pytest.mark.slow
def test_server_that_never_comes_up_fails_after_the_bound():
    result = _pull(f"http://127.0.0.1:{free_port()}", "llama3.2", wait="0.5")
    assert result.returncode == 1
    assert "did not answer within 0.5s" in result.stdout


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("llama3.2", "llama3.2:latest"),
        ("llama3.2", "library/llama3.2"),
        ("llama3.2", "registry.ollama.ai/library/llama3.2:latest"),
        ("Llama3.2:Latest", "llama3.2"),
    ],
)
def test_names_that_ollama_treats_as_one_model_normalize_alike(a, b):
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(("a", "b"), [("llama3.2", "llama3.2:1b"), ("qwen2.5:14b", "qwen2.5:7b"), ("a/x", "b/x")])
def test_different_models_normalize_apart(a, b):
    assert normalize(a) != normalize(b)


def test_progress_logs_status_changes_and_completion_but_throttles_repeats(capsys):
    now = [0.0]
    progress = Progress("m", interval=10, clock=lambda: now[0])
    layer = {"status": "pulling abc", "total": 100}
    for completed in (0, 10, 20):  # same status, within the interval: only the first line
        progress.update({**layer, "completed": completed})
    now[0] = 11
    progress.update({**layer, "completed": 30})  # interval elapsed
    progress.update({**layer, "completed": 100})  # layer done
    progress.update({"status": "success"})  # new status
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 2)[2] for line in lines] == [
        "pulling abc 0% (0 B/100 B)",
        "pulling abc 30% (30 B/100 B)",
        "pulling abc 100% (100 B/100 B)",
        "success",
    ]


@pytest.mark.parametrize("script", ["ollama_pull.py", "sd_fetch_models.py"])
def test_scripts_import_only_the_standard_library(script):
    tree = ast.parse(SCRIPTS[script].read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__"} <= sys.stdlib_module_names
