"""The model-pull script against a fake Ollama on 127.0.0.1 that streams like the real one.

Most tests call the script's main() in this process (fast, and what `make mutate` measures); the
ones that need the container's view run it as the pod does: a bare interpreter, standard library only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import attrs
import pytest

from homelab_ai.services.ollama import ollama_pull
from homelab_ai.services.ollama.ollama_pull import Progress, human_bytes, normalize
from tests.fake_servers import (
    SCRIPT_TIMEOUT,
    SCRIPTS,
    FakeOllama,
    end_chunks,
    run_script,
    send,
    send_chunk,
    start_ndjson,
)
from tests.ports import free_port

GIB = 1024**3


@attrs.frozen
class Run:
    returncode: int
    stdout: str
    stderr: str = ""


class Clock:
    """The script's monotonic clock, moved only by its own sleeps (which it records)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A pause of zero or less would spin; thousands of them mean the bound is never reached.
        assert seconds > 0, f"asked to sleep {seconds} s"
        assert len(self.sleeps) < 1000, "still waiting after 1000 pauses"
        self.sleeps.append(seconds)
        self.now += seconds


def _pull(
    server_url: str, *models: str, wait: str = "10", poll: str = "0.1", options: tuple[str, ...] = (),
    clock: Clock | None = None,
) -> Run:  # fmt: skip
    out = io.StringIO()
    argv = ["--server", server_url, "--wait-seconds", wait, "--poll-seconds", poll, "--progress-seconds", "0"]
    paced = {"clock": clock, "sleep": clock.sleep} if clock else {}
    with contextlib.redirect_stdout(out):
        code = ollama_pull.main([*argv, *options, *models], **paced)
    return Run(code, out.getvalue())


def _answer_pulls(ollama: FakeOllama, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
    """POST /api/pull gets ``answer``; every other route answers as the fake does."""
    handle = ollama.handle

    def routed(request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        if request.path == "/api/pull":
            answer(request)
        else:
            handle(request, body)

    ollama.handle = routed


def _pulled_with(answer: Callable[[BaseHTTPRequestHandler], None]) -> Run:
    """Pull llama3.2 from a fake whose POST /api/pull gets ``answer``."""
    with FakeOllama() as ollama:
        _answer_pulls(ollama, answer)
        return _pull(ollama.url, "llama3.2")


def _stream(*lines: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    """A 200 NDJSON stream of these raw lines, chunked as Ollama sends it."""

    def answer(request: BaseHTTPRequestHandler) -> None:
        start_ndjson(request)
        for line in lines:
            send_chunk(request, line + b"\n")
        end_chunks(request)

    return answer


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


def test_server_that_never_comes_up_fails_after_the_bound():
    result = _pull(f"http://127.0.0.1:{free_port()}", "llama3.2", wait="0.5", clock=Clock())
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
    assert f"ollama-pull: Ollama unknown is up at {ollama.url}\n" in result.stdout  # {} names no version
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


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("llama3.2", "registry.ollama.ai/library/llama3.2:latest"),
        ("qwen2.5:14b", "registry.ollama.ai/library/qwen2.5:14b"),
        ("hf.co/bartowski/m:Q4", "hf.co/bartowski/m:q4"),
        ("registry.local:5000/team/m", "registry.local:5000/team/m:latest"),  # a port is no tag
        ("registry.local:5000/team/m:7b", "registry.local:5000/team/m:7b"),
        ("m:", "registry.ollama.ai/library/m:latest"),
        ("reg/ns:x/m", "reg/ns:x/m:latest"),  # the tag follows the last "/": a ":" before it is no tag
    ],
)
def test_a_name_normalizes_to_the_full_name_ollama_stores(name, full):
    assert normalize(name) == full


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

    with SilentServer() as silent:  # each check gives up after 0.2 s; a second one ends past the 0.3 s bound
        result = _pull(silent.url, "llama3.2", wait="0.3", options=("--timeout-seconds", "0.2"))
    assert result.returncode == 1
    assert "did not answer within 0.3s (last error: timed out)" in result.stdout


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


# Waiting for the server, on a clock the test moves ------------------------------------------------


def test_the_wait_is_logged_at_the_first_check_then_every_twelfth_until_the_bound():
    clock, url = Clock(), f"http://127.0.0.1:{free_port()}"  # nothing listens: every check is refused at once
    result = _pull(url, "llama3.2", wait="130", poll="5", clock=clock)
    refused = "<urlopen error [Errno 111] Connection refused>"
    assert result.returncode == 1
    # checks at 0, 5, ..., 130 s: the 1st, 12th and 24th are logged; the 27th finds the bound reached
    assert result.stdout.splitlines() == [
        f"ollama-pull: waiting for Ollama at {url} ({refused}); giving up in 130s",
        f"ollama-pull: waiting for Ollama at {url} ({refused}); giving up in 75s",
        f"ollama-pull: waiting for Ollama at {url} ({refused}); giving up in 15s",
        f"ollama-pull: ERROR: Ollama at {url} did not answer within 130s (last error: {refused})",
    ]
    assert clock.sleeps == [5] * 26


def test_the_last_pause_is_cut_short_at_the_bound():
    clock = Clock()
    result = _pull(f"http://127.0.0.1:{free_port()}", "llama3.2", wait="12", poll="5", clock=clock)
    assert result.returncode == 1
    assert clock.sleeps == [5, 5, 2]
    assert "did not answer within 12s" in result.stdout.splitlines()[-1]


def test_a_server_that_comes_up_during_the_wait_is_used_at_once():
    port, clock, started = free_port(), Clock(), []

    def sleep(seconds: float) -> None:  # nothing listens at the first check; the server is up after the pause
        clock.sleep(seconds)
        if not started:
            started.append(FakeOllama(present=["llama3.2:latest"], port=port).__enter__())

    out = io.StringIO()
    argv = ["--server", f"http://127.0.0.1:{port}", "--wait-seconds", "60", "--poll-seconds", "5", "llama3.2"]
    try:
        with contextlib.redirect_stdout(out):
            code = ollama_pull.main(argv, clock=clock, sleep=sleep)
    finally:
        for server in started:
            server.__exit__()
    assert code == 0, out.getvalue()
    assert clock.sleeps == [5]
    assert (
        out.getvalue().splitlines()[1] == f"ollama-pull: Ollama {FakeOllama.VERSION} is up at http://127.0.0.1:{port}"
    )


# What the server may answer besides Ollama's own shapes -------------------------------------------


def test_a_model_listed_under_only_one_of_its_two_names_is_still_present():
    # v0.32.15 sends both, with the same value (api/types.go ListModelResponse L822-832); either one is enough.
    with FakeOllama() as ollama:
        full = [FakeOllama._listed(name) for name in ("llama3.2:latest", "mistral:latest")]
        listing = {"models": [{k: v for k, v in full[0].items() if k != "model"},
                              {k: v for k, v in full[1].items() if k != "name"}]}  # fmt: skip
        handle = ollama.handle
        ollama.handle = lambda request, body=b"": (
            send(request, 200, json.dumps(listing).encode(), "application/json")
            if request.path == "/api/tags"
            else handle(request, body)
        )
        result = _pull(ollama.url, "llama3.2", "mistral")
    assert result.returncode == 0, result.stdout
    assert ollama.pulls() == []


def test_an_error_that_is_not_ollamas_json_is_quoted_up_to_500_characters():
    page = "upstream connect error " + "x" * 600  # a proxy's page, not {"error": ...}
    result = _pulled_with(lambda request: send(request, 502, page.encode(), "text/plain"))
    assert result.returncode == 1
    assert f"could not pull model 'llama3.2': the server answered HTTP 502: {page[:500]}\n" in result.stdout


@pytest.mark.parametrize("body", [b'{"detail": "no error key"}', b'["a list"]', b'"a string"'])
def test_json_without_an_error_field_is_quoted_as_it_came(body):
    result = _pulled_with(lambda request: send(request, 500, body, "application/json"))
    assert f"the server answered HTTP 500: {body.decode()}\n" in result.stdout


def test_an_error_body_that_is_not_utf8_is_reported_with_replacement_characters():
    result = _pulled_with(lambda request: send(request, 500, b"\xff\xfe broken", "text/plain"))
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': the server answered HTTP 500: \ufffd\ufffd broken\n" in result.stdout


def test_an_error_body_cut_short_falls_back_to_the_status_reason():
    def cut(request: BaseHTTPRequestHandler) -> None:
        request.send_response(502)
        request.send_header("Content-Length", "100")
        request.end_headers()
        request.wfile.write(b'{"err')  # then the connection closes: IncompleteRead
        request.close_connection = True

    result = _pulled_with(cut)
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': the server answered HTTP 502: Bad Gateway\n" in result.stdout


def test_an_empty_error_body_falls_back_to_the_status_reason():
    result = _pulled_with(lambda request: send(request, 503, b"", "text/plain"))
    assert "could not pull model 'llama3.2': the server answered HTTP 503: Service Unavailable\n" in result.stdout


def test_blank_lines_in_the_stream_are_skipped():
    result = _pulled_with(_stream(b'{"status": "pulling manifest"}', b"", b"  ", b'{"status": "success"}'))
    assert result.returncode == 0, result.stdout
    assert "llama3.2: ready" in result.stdout


def test_an_unreadable_line_fails_the_model_quoting_its_first_200_bytes():
    page = b"<html>" + b"x" * 300
    result = _pulled_with(_stream(b'{"status": "pulling manifest"}', page, b'{"status": "success"}'))
    assert result.returncode == 1
    assert f"could not pull model 'llama3.2': unreadable line from the server: {page[:200]!r}\n" in result.stdout


def test_a_connection_dropped_mid_stream_fails_the_model():
    def dropped(request: BaseHTTPRequestHandler) -> None:
        start_ndjson(request)
        send_chunk(request, b'{"status": "pulling manifest"}\n')
        request.wfile.write(b"ff\r\n{")  # a chunk announced, then the connection closes
        request.close_connection = True

    result = _pulled_with(dropped)
    assert result.returncode == 1
    assert "could not pull model 'llama3.2': the request failed: IncompleteRead(" in result.stdout


# Progress lines -----------------------------------------------------------------------------------


def _progress_lines(capsys, events: list[dict], *, interval: float = 10, times: list[float] | None = None) -> list[str]:
    """What Progress logs for ``events``, each at its time (default: all at once)."""
    times = times or [1000.0] * len(events)
    now = [times[0]]
    progress = Progress("m", interval=interval, clock=lambda: now[0])
    for at, event in zip(times, events, strict=True):
        now[0] = at
        progress.update(event)
    return [line.split(": ", 2)[2] for line in capsys.readouterr().out.splitlines()]


def test_progress_shows_whole_percents_rounded_down(capsys):
    events = [{"status": "a", "total": 3, "completed": 2}, {"status": "b", "total": 1, "completed": 1}]
    assert _progress_lines(capsys, events) == ["a 66% (2 B/3 B)", "b 100% (1 B/1 B)"]


def test_progress_past_the_total_is_capped_at_100_percent(capsys):
    assert _progress_lines(capsys, [{"status": "a", "total": 100, "completed": 150}]) == ["a 100% (150 B/100 B)"]


def test_progress_with_a_zero_total_shows_the_status_alone(capsys):
    # Ollama omits total while it is 0 (ProgressResponse omitempty); an explicit 0 must not divide by zero.
    assert _progress_lines(capsys, [{"status": "a", "total": 0, "completed": 0}]) == ["a"]


def test_a_layers_completion_is_logged_once(capsys):
    done = {"status": "a", "total": 10, "completed": 10}
    lines = _progress_lines(capsys, [{"status": "a", "total": 10}, done, done])
    assert lines == ["a 0% (0 B/10 B)", "a 100% (10 B/10 B)"]


def test_a_repeated_status_without_numbers_is_logged_once_per_interval(capsys):
    events = [{"status": "verifying sha256 digest"}] * 3
    assert _progress_lines(capsys, events, times=[1000, 1009, 1010]) == ["verifying sha256 digest"] * 2


def test_a_repeated_line_is_logged_again_once_the_interval_has_passed_exactly(capsys):
    events = [{"status": "a", "total": 100, "completed": n} for n in (10, 20, 30)]
    assert _progress_lines(capsys, events, times=[1000, 1005, 1010]) == ["a 10% (10 B/100 B)", "a 30% (30 B/100 B)"]


def test_a_line_without_a_status_logs_an_empty_one(capsys):
    # v0.32.15 always sends a status (api/types.go ProgressResponse: no omitempty); a missing one is not "None".
    assert _progress_lines(capsys, [{"digest": "sha256:0"}]) == [""]


# The command line and the summary -----------------------------------------------------------------


def test_a_server_url_with_a_trailing_slash_is_used_without_it():
    with FakeOllama(present=["llama3.2:latest"]) as ollama:
        result = _pull(ollama.url + "/", "llama3.2")
    assert result.returncode == 0, result.stdout
    assert [path for _, path, _ in ollama.requests] == ["/api/version", "/api/tags"]
    assert f"Ollama {FakeOllama.VERSION} is up at {ollama.url}\n" in result.stdout


def test_a_server_url_keeps_its_path_and_its_last_letter_and_loses_its_slashes():
    url = f"http://127.0.0.1:{free_port()}/behind/a/proxyX"  # nothing listens: refused at once
    result = _pull(url + "//", "llama3.2", wait="5", poll="5", clock=Clock())
    assert result.stdout.startswith(f"ollama-pull: waiting for Ollama at {url} (")


def test_every_failed_model_is_named_in_the_summary_and_every_model_when_all_are_there():
    with FakeOllama(present=["a:latest", "b:latest"]) as ollama:
        failed = _pull(ollama.url, "x1", "a", "x2")
        done = _pull(ollama.url, "a", "b")
    assert failed.stdout.splitlines()[-1] == "ollama-pull: FAILED: 2 of 3 model(s) not pulled: x1, x2"
    assert done.stdout.splitlines()[-1] == "ollama-pull: all 2 declared model(s) present: a, b"


def test_each_request_has_a_timeout_and_a_server_check_at_most_10_s(monkeypatch):
    """A hung server must not hold the Job: every request gives up (--timeout-seconds); a check of the
    server while waiting for it gives up after 10 s at most, so the wait's bound still holds."""
    urlopen, asked = ollama_pull.urllib.request.urlopen, []

    def recording(request, timeout):
        url = request if isinstance(request, str) else request.full_url
        asked.append((url.rsplit("/", 1)[1], timeout))
        return urlopen(request, timeout=timeout)

    monkeypatch.setattr(ollama_pull.urllib.request, "urlopen", recording)
    with FakeOllama(pullable={"m": [10]}) as ollama:
        for seconds in ("600", "4"):
            _pull(ollama.url, "m", options=("--timeout-seconds", seconds))
    assert asked == [("version", 10), ("tags", 600), ("pull", 600), ("version", 4), ("tags", 4)]
