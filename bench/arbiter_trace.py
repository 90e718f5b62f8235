"""`make bench`, part "arbiter": a seeded trace of chats and images on one simulated card, with and without it.

The card and the apps are the fakes of tests/fake_gpu_apps.py (24 GiB; Ollama models of 16 and
5 GiB; AUTOMATIC1111 with a 7 GiB checkpoint, 8 GiB while sampling, 12 GiB at the VAE decode),
with durations in milliseconds so 1,000 requests replay in seconds. The same trace (arrival times,
kinds, models; seed fixed) is replayed three times:

- straight to the fakes: what happens today (Ollama keeps its model for keep_alive, the web UI
  keeps its checkpoint);
- through the arbiter (tests/arbiter_rig.py runs the real in-pod script): the admitted path;
- through the arbiter, but with a share of the images sent straight to the web UI, as its own web
  page on the LAN does: what the reactive path can and cannot catch.

Then the proxy's own cost on a streamed response: alternated pairs of the same streamed chat,
straight and through the arbiter, with nothing else on the card.

    python -m bench.arbiter_trace                 # markdown tables
    python -m bench.arbiter_trace --requests 200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.arbiter_rig import Answer, ArbiterProcess, call, rig_config, wait_until
from tests.fake_gpu_apps import FakeAutomatic1111, FakeOllama, SimulatedCard

SEED = 14
REQUESTS = 1000
CHAT_SHARE = 0.7
BIG_MODEL_SHARE = 0.6  # of chats: the 16 GiB model; the rest the 5 GiB one
MEAN_GAP_S = 0.012  # between arrivals
DIRECT_IMAGE_SHARE = 0.2  # third run: images from the web page on the LAN
TOKENS, TOKEN_DELAY_S = 3, 0.001
JOB_S, PEAK_AT_S = 0.01, 0.007
LATENCY_PAIRS = 200
MODELS = {"llama3.1:16g": 16.0, "llama3.2:5g": 5.0}


@dataclass(frozen=True)
class Item:
    at: float
    kind: str  # "chat" | "image"
    model: str
    direct: bool


def make_trace(n: int, seed: int) -> list[Item]:
    rng = random.Random(seed)
    at, items = 0.0, []
    for _ in range(n):
        at += rng.expovariate(1 / MEAN_GAP_S)
        chat = rng.random() < CHAT_SHARE
        model = "llama3.1:16g" if rng.random() < BIG_MODEL_SHARE else "llama3.2:5g"
        direct = (not chat) and rng.random() < DIRECT_IMAGE_SHARE
        items.append(Item(at, "chat" if chat else "image", model, direct))
    return items


class Setup:
    """A fresh card, fresh fakes, and (optionally) an arbiter in front of them."""

    def __init__(self, with_arbiter: bool, max_wait_s: float = 60.0) -> None:
        self.card = SimulatedCard(24)
        self.ollama = FakeOllama(self.card, MODELS, tokens=TOKENS, token_delay_s=TOKEN_DELAY_S).start()
        self.sd = FakeAutomatic1111(self.card, job_s=JOB_S, peak_at_s=PEAK_AT_S).start()
        self.arbiter: ArbiterProcess | None = None
        if with_arbiter:
            config = rig_config(
                self.ollama.url, self.sd.url, poll_interval_s=0.05, ollama_wait_s=max_wait_s, sd_wait_s=max_wait_s
            )
            self.arbiter = ArbiterProcess(config).start()

    def ports(self) -> tuple[int, int]:
        if self.arbiter is None:
            return self.ollama.port, self.sd.port
        return self.arbiter.port("ollama"), self.arbiter.port("stable-diffusion")

    def close(self) -> None:
        if self.arbiter is not None:
            self.arbiter.stop()
            self.arbiter.cleanup()
        self.ollama.stop()
        self.sd.stop()


def send(item: Item, ollama_port: int, sd_port: int, direct_sd_port: int) -> Answer:
    if item.kind == "chat":
        payload = {"model": item.model, "messages": [{"role": "user", "content": "hi"}]}
        return call(ollama_port, "POST", "/api/chat", payload, timeout=120)
    port = direct_sd_port if item.direct else sd_port
    return call(port, "POST", "/sdapi/v1/txt2img", {"prompt": "a lighthouse"}, timeout=120)


def outcome(item: Item, answer: Answer) -> str:
    body = answer.body.decode(errors="replace")
    if answer.status == 200 and (item.kind == "image" or (answer.lines() and answer.lines()[-1].get("done"))):
        return "completed"
    if "out of memory" in body:
        return "oom"
    if "Expected all tensors to be on the same device" in body:
        return "checkpoint off the GPU"
    if answer.status == 503:
        return "refused"
    return f"error {answer.status or answer.error}"


def replay(trace: list[Item], with_arbiter: bool, use_direct: bool) -> dict[str, Any]:
    setup = Setup(with_arbiter)
    try:
        ollama_port, sd_port = setup.ports()
        results: list[tuple[Item, Answer]] = []
        threads = []
        start = time.monotonic()
        for item in trace:
            if not use_direct:
                item = Item(item.at, item.kind, item.model, False)
            delay = start + item.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            holder: list[Answer] = []
            thread = threading.Thread(
                target=lambda i=item, h=holder: h.append(send(i, ollama_port, sd_port, setup.sd.port)), daemon=True
            )
            thread.start()
            threads.append((item, holder, thread))
        for item, holder, thread in threads:
            thread.join(timeout=180)
            results.append((item, holder[0] if holder else Answer()))
        wall = time.monotonic() - start
        outcomes = [outcome(i, a) for i, a in results]
        counts = {k: outcomes.count(k) for k in sorted(set(outcomes))}
        admitted = [
            o
            for (i, _), o in zip(results, outcomes, strict=True)
            if with_arbiter and not (i.kind == "image" and i.direct)
        ]
        waits: list[float] = []
        unloads = 0
        if setup.arbiter is not None:
            waits = [e["waited_s"] for e in setup.arbiter.events("admit") if e["waited_s"] > 0.0005]
            unloads = len(setup.arbiter.events("unload"))
        return {
            "arbiter": with_arbiter,
            "direct_images": sum(1 for i, _ in results if i.kind == "image" and i.direct),
            "requests": len(results),
            "outcomes": counts,
            "card_ooms": setup.card.oom_count,
            "ooms_on_admitted_path": sum(1 for o in admitted if o == "oom"),
            "unloads": unloads,
            "waits": len(waits),
            "wait_total_s": sum(waits),
            "wait_median_ms": statistics.median(waits) * 1000 if waits else 0.0,
            "wait_p99_ms": percentile(waits, 99) * 1000 if waits else 0.0,
            "wall_s": wall,
        }
    finally:
        setup.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def latency(pairs: int) -> dict[str, Any]:
    """Alternated streamed chats, straight and through the arbiter, on an otherwise idle card."""
    setup = Setup(with_arbiter=True)
    try:
        assert setup.arbiter is not None
        payload = {"model": "llama3.2:5g", "messages": [{"role": "user", "content": "hi"}]}
        direct_port, proxy_port = setup.ollama.port, setup.arbiter.port("ollama")
        # Warm up: load the 5 GiB model (it fits beside the checkpoint) and let the arbiter see it.
        call(proxy_port, "POST", "/api/chat", payload)
        wait_until(lambda: setup.arbiter.app_status("ollama")["observed_gib"] == 5.0, "the model in /api/ps")
        samples: dict[str, dict[str, list[float]]] = {
            "direct": {"first": [], "total": []},
            "arbiter": {"first": [], "total": []},
        }
        for i in range(pairs):
            order = [("direct", direct_port), ("arbiter", proxy_port)]
            for name, port in order if i % 2 == 0 else reversed(order):
                sent = time.monotonic()
                answer = call(port, "POST", "/api/chat", payload)
                assert answer.status == 200 and answer.lines()[-1]["done"], answer.body
                samples[name]["first"].append(answer.chunks[0][0] - sent)
                samples[name]["total"].append(answer.chunks[-1][0] - sent)
        added = {
            key: [a - d for a, d in zip(samples["arbiter"][key], samples["direct"][key], strict=True)]
            for key in ("first", "total")
        }
        return {"pairs": pairs, "samples": samples, "added": added}
    finally:
        setup.close()


def ms(values: list[float], pct: float | None = None) -> str:
    value = statistics.median(values) if pct is None else percentile(values, pct)
    return f"{value * 1000:.2f}"


def report(runs: list[dict[str, Any]], lat: dict[str, Any], n: int, seed: int) -> str:
    labels = [
        "straight to the apps (today)",
        "through the arbiter",
        f"through the arbiter, {DIRECT_IMAGE_SHARE:.0%} of images from the LAN page",
    ]
    header = [
        "replay",
        "requests",
        "completed",
        "failed: OOM",
        "refused (503)",
        "failed: checkpoint off the GPU",
        "other errors",
        "simulated OOMs on the card",
        "OOMs on the admitted path",
        "unloads",
        "requests that waited",
        "time waiting for the card: total s (median / p99 ms)",
        "wall s",
    ]
    rows = []
    for label, run in zip(labels, runs, strict=True):
        outcomes = dict(run["outcomes"])
        completed = outcomes.pop("completed", 0)
        oom = outcomes.pop("oom", 0)
        refused = outcomes.pop("refused", 0)
        off_gpu = outcomes.pop("checkpoint off the GPU", 0)
        other = sum(outcomes.values())
        admitted = "-" if not run["arbiter"] else str(run["ooms_on_admitted_path"])
        waiting = (
            "-"
            if not run["arbiter"]
            else f"{run['wait_total_s']:.2f} ({run['wait_median_ms']:.1f} / {run['wait_p99_ms']:.1f})"
        )
        rows.append(
            [
                label,
                run["requests"],
                completed,
                oom,
                refused,
                off_gpu,
                other,
                run["card_ooms"],
                admitted,
                run["unloads"] if run["arbiter"] else "-",
                run["waits"] if run["arbiter"] else "-",
                waiting,
                f"{run['wall_s']:.1f}",
            ]
        )
    s, a = lat["samples"], lat["added"]
    lat_rows = [
        [
            "first NDJSON line (ms)",
            ms(s["direct"]["first"]),
            ms(s["direct"]["first"], 99),
            ms(s["arbiter"]["first"]),
            ms(s["arbiter"]["first"], 99),
            ms(a["first"]),
            ms(a["first"], 99),
        ],
        [
            f"whole stream, {TOKENS + 1} lines (ms)",
            ms(s["direct"]["total"]),
            ms(s["direct"]["total"], 99),
            ms(s["arbiter"]["total"]),
            ms(s["arbiter"]["total"], 99),
            ms(a["total"]),
            ms(a["total"], 99),
        ],
    ]
    return (
        f"## VRAM arbiter: {n} requests (seed {seed}), {CHAT_SHARE:.0%} chats, on one simulated 24 GiB card\n\n"
        + _table(header, rows)
        + f"\n\n### Proxy overhead on a streamed chat, {lat['pairs']} alternated pairs, nothing else on the card\n\n"
        + _table(["", "straight: median", "p99", "arbiter: median", "p99", "added: median", "added: p99"], lat_rows)
        + "\n"
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="replay a chat/image trace with and without the VRAM arbiter")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--pairs", type=int, default=LATENCY_PAIRS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    trace = make_trace(args.requests, args.seed)
    runs = [replay(trace, False, False), replay(trace, True, False), replay(trace, True, True)]
    lat = latency(args.pairs)
    print(report(runs, lat, args.requests, args.seed))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "latency": lat}, indent=1))
    return 0 if runs[1]["card_ooms"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
