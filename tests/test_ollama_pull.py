"""The model-pull script against a fake Ollama on 127.0.0.1 that streams like the real one.

Most tests call the script's main() in this process (fast, and what `make mutate` measures); the
ones that need the container's view run it as the pod does: a bare interpreter, standard library only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import subprocess
import sys
import time

import attrs
import pytest

from homelab_ai.services.ollama import ollama_pull
from homelab_ai.services.ollama.ollama_pull import Progress, human_bytes, normalize
from tests.fake_servers import SCRIPT_TIMEOUT, SCRIPTS, FakeOllama, free_port, run_script

GIB = 1024**3


@attrs.frozen
class Run:
    returncode: int
    stdout: str
    stderr: str = ""


def _pull(server_url: str, *models: str, wait: str = "10") -> Run:
    out = io.StringIO()
    argv = ["--server", server_url, "--wait-seconds", wait, "--poll-seconds", "0.1", "--progress-seconds", "0"]
    with contextlib.redirect_stdout(out):
        code = ollama_pull.main([*argv, *models])
    return Run(code, out.getvalue())


def test_present_model_is_skipped_without_a_pull():
    with FakeOllama(present=["llama3.2:latest"]) as ollama:
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llama3.2: already present, skipped" in result.stdout
    assert ollama.pulls() == []


def test_missing_model_is_pulled_layer_by_layer_with_progress_in_the_log():
    with FakeOllama(pullable={"qwen2.5:14b": [9 * GIB, 1000]}) as ollama:
        result = _pull(ollama.url, "qwen2.5:14b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ollama.pulls() == [{"model": "qwen2.5:14b", "stream": True}]
    assert result.stdout.splitlines() == [
        f"ollama-pull: Ollama {FakeOllama.VERSION} is up at {ollama.url}",
        "ollama-pull: qwen2.5:14b: pulling",
        "ollama-pull: qwen2.5:14b: pulling manifest",
        "ollama-pull: qwen2.5:14b: pulling 006a0746a1ec 0% (0 B/9.7 GB)",
        "ollama-pull: qwen2.5:14b: pulling 006a0746a1ec 50% (4.8 GB/9.7 GB)",
        "ollama-pull: qwen2.5:14b: pulling 006a0746a1ec 100% (9.7 GB/9.7 GB)",
        "ollama-pull: qwen2.5:14b: pulling 016a0746a1ec 0% (0 B/1.0 KB)",
        "ollama-pull: qwen2.5:14b: pulling 016a0746a1ec 50% (500 B/1.0 KB)",
        "ollama-pull: qwen2.5:14b: pulling 016a0746a1ec 100% (1.0 KB/1.0 KB)",
        "ollama-pull: qwen2.5:14b: verifying sha256 digest",
        "ollama-pull: qwen2.5:14b: writing manifest",
        "ollama-pull: qwen2.5:14b: success",
        "ollama-pull: qwen2.5:14b: ready",
        "ollama-pull: all 1 declared model(s) present: qwen2.5:14b",
    ]


def test_a_stream_that_ends_without_success_is_a_failure():
    with FakeOllama(pullable={"llama3.2": [GIB]}, cut={"llama3.2"}) as ollama:
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': the stream ended before Ollama reported success" in result.stdout
    assert "llama3.2: ready" not in result.stdout


def test_an_invalid_name_is_refused_by_ollama_with_http_400():
    with FakeOllama() as ollama:
        result = _pull(ollama.url, "bad name!")
    assert result.returncode == 1
    assert "could not pull model 'bad name!': the server answered HTTP 400: invalid model name" in result.stdout


def test_a_registry_failure_arrives_inside_the_200_stream_and_names_the_model():
    with FakeOllama(unreachable={"llama3.2"}) as ollama:
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': pull model manifest: Get " in result.stdout
    assert "no such host" in result.stdout


def test_only_the_missing_models_of_a_list_are_pulled():
    with FakeOllama(present=["llama3.2:latest"], pullable={"mistral": GIB}) as ollama:
        result = _pull(ollama.url, "llama3.2:latest", "mistral")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p["model"] for p in ollama.pulls()] == ["mistral"]


def test_unknown_model_fails_naming_the_model_and_ollamas_error():
    with FakeOllama(pullable={"llama3.2": GIB}) as ollama:
        result = _pull(ollama.url, "no-such-model:7b", "llama3.2")
    assert result.returncode == 1
    assert "could not pull model 'no-such-model:7b': pull model manifest: file does not exist" in result.stdout
    assert "FAILED: 1 of 2 model(s) not pulled: no-such-model:7b" in result.stdout
    assert "llama3.2: ready" in result.stdout  # one bad name does not stop the others


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
    assert f"Ollama {FakeOllama.VERSION} is up" in rest
    assert "llama3.2: already present, skipped" in rest


@pytest.mark.slow
def test_server_that_never_comes_up_fails_after_the_bound():
    result = _pull(f"http://127.0.0.1:{free_port()}", "llama3.2", wait="0.5")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ollama-pull: waiting for Ollama at http://127.0.0.1:")
    assert lines[0].endswith("giving up in 0s") or "giving up in" in lines[0]
    assert lines[-1].startswith("ollama-pull: ERROR: Ollama at http://127.0.0.1:")
    assert "did not answer within 0.5s (last error: " in lines[-1]


@pytest.mark.slow
def test_the_script_runs_in_a_bare_interpreter_as_in_its_pod():
    with FakeOllama(present=["llama3.2:latest"]) as ollama:
        result = run_script("ollama_pull.py", "--server", ollama.url, "llama3.2")
    assert result.returncode == 0, result.stderr
    assert "ollama-pull: all 1 declared model(s) present: llama3.2" in result.stdout


def test_a_failed_model_list_is_reported():
    with FakeOllama() as ollama:
        ollama.handle = lambda request, body=b"": (  # /api/version answers, /api/tags is broken
            request.send_response(200)
            or request.send_header("Content-Length", "2")
            or request.end_headers()
            or request.wfile.write(b"{}" if request.path == "/api/version" else b"no")
        )
        result = _pull(ollama.url, "llama3.2")
    assert result.returncode == 1
    assert "ERROR: could not list the models of" in result.stdout


def test_duplicate_names_are_pulled_once():
    with FakeOllama(pullable={"llama3.2": [GIB]}) as ollama:
        result = _pull(ollama.url, "llama3.2", "llama3.2:latest", "library/llama3.2")
    assert result.returncode == 0
    assert [p["model"] for p in ollama.pulls()] == ["llama3.2"]
    assert result.stdout.endswith("all 1 declared model(s) present: llama3.2\n")


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (1_500_000, "1.5 MB"), (9.7e9, "9.7 GB"), (2e12, "2.0 TB")],
)
def test_human_bytes_uses_powers_of_a_thousand(count, text):
    assert human_bytes(count) == text


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


def _help(capsys, monkeypatch, main) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_names_every_option_with_its_default(capsys, monkeypatch):
    text = _help(capsys, monkeypatch, ollama_pull.main)
    for part in [
        "Pull the declared Ollama models through the server's HTTP API, skipping those already present.",
        "models model names, e.g. llama3.2 qwen2.5:14b",
        "--server SERVER Ollama base URL, e.g. http://ollama:11434",
        "--wait-seconds WAIT_SECONDS how long to wait for the server (default: 1200 s)",
        "--poll-seconds POLL_SECONDS pause between two server checks (default: 5 s)",
        "--timeout-seconds TIMEOUT_SECONDS socket timeout of one request (default: 600 s)",
        "--progress-seconds PROGRESS_SECONDS at most one progress line per interval (default: 10 s)",
    ]:
        assert part in text


def test_the_server_and_a_model_are_required(capsys):
    for argv in (["llama3.2"], ["--server", "http://x"]):
        with pytest.raises(SystemExit) as done:
            ollama_pull.main(argv)
        assert done.value.code == 2
    assert "the following arguments are required: " in capsys.readouterr().err


def test_seconds_are_read_as_numbers():
    with FakeOllama(present=["llama3.2:latest"]) as ollama:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = ollama_pull.main(["--server", ollama.url, "--timeout-seconds", "5", "--wait-seconds", "2.5",
                                     "--poll-seconds", "0.5", "--progress-seconds", "1", "llama3.2"])  # fmt: skip
    assert code == 0, out.getvalue()


@pytest.mark.slow
def test_a_server_that_accepts_but_never_answers_is_given_up_on_after_the_bound():
    from tests.fake_servers import SilentServer

    with SilentServer() as silent:
        result = _pull(silent.url, "llama3.2", wait="0.3")
    assert result.returncode == 1
    assert "did not answer within 0.3s (last error: " in result.stdout


def _slow(ollama: FakeOllama, path: str) -> None:
    """Make ``path`` hang longer than the script's timeout; everything else as usual."""
    handle = ollama.handle

    def slow(request, body=b""):
        if request.path == path:
            time.sleep(1)
        handle(request, body)

    ollama.handle = slow


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/tags", "ERROR: could not list the models of"),
        ("/api/pull", "could not pull model 'llama3.2': the request failed: "),
    ],
)
def test_a_request_that_hangs_fails_after_the_timeout(path, message):
    with FakeOllama(pullable={"llama3.2": [GIB]}) as ollama:
        _slow(ollama, path)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = ollama_pull.main(["--server", ollama.url, "--timeout-seconds", "0.2", "llama3.2"])
    assert code == 1
    assert message in out.getvalue()
    assert "timed out" in out.getvalue()
