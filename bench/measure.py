"""One measurement in a fresh process; prints one JSON line. ``bench.run`` starts it, never a test.

    python -m bench.measure CASE [N]

CASE is one of:
  import-jsii        ``import constructs``: the jsii runtime and its Node process start (the floor)
  import-cdk8s-plus  ``import cdk8s, cdk8s_plus_27``: what any cdk8s-plus program loads
  import-homelab-ai  ``import homelab_ai``
  lib-ai / base-ai   synthesize the ``ai`` namespace with homelab-ai / with raw cdk8s-plus
  lib-scale / base-scale N   the same for the generated chart of N GPU apps

Times are taken in-process with ``perf_counter``; the parent adds the process's wall time.
Peak memory: this Python process's ``ru_maxrss`` and the jsii Node child's ``VmHWM`` (read from
/proc before the child exits), in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")

CASES = ("import-jsii", "import-cdk8s-plus", "import-homelab-ai", "lib-ai", "base-ai", "lib-scale", "base-scale")


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (the jsii runtime is one Node process; be robust to more)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


def _peak_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def node_peak_mib() -> float:
    """Peak RSS of the largest child process (the jsii Node runtime); 0 when none was started."""
    return max((_peak_mib(pid) for pid in _children(os.getpid())), default=0.0)


def _synth_library(case: str, n: int | None, outdir: Path) -> dict:
    t0 = time.perf_counter()
    from homelab_ai.synth.dist import collect_warnings, render, write_atomically

    if case == "lib-ai":
        from apps.homelab import build as build_ai

        def build():
            return build_ai()
    else:
        from bench.scale import build as build_scale

        def build():
            return build_scale(n)

    t1 = time.perf_counter()
    # The steps of homelab_ai.synth.dist.synthesize (what `homelab-ai synth` runs), timed one by one.
    app, folders = build()
    t2 = time.perf_counter()
    collect_warnings(app)
    files = render(app, folders)
    t3 = time.perf_counter()
    write_atomically(files, outdir / "dist")
    t4 = time.perf_counter()
    return _phases(t0, t1, t2, t3, t4, len(files))


def _synth_baseline(case: str, n: int | None, outdir: Path) -> dict:
    t0 = time.perf_counter()
    from bench import baseline

    t1 = time.perf_counter()
    tree = baseline.ai_namespace() if case == "base-ai" else baseline.scale(n or 0)
    app = baseline.build(tree)
    t2 = time.perf_counter()
    files = baseline.render(app, tree)
    t3 = time.perf_counter()
    baseline.write(files, outdir / "dist")
    t4 = time.perf_counter()
    return _phases(t0, t1, t2, t3, t4, len(files))


def _phases(t0: float, t1: float, t2: float, t3: float, t4: float, files: int) -> dict:
    return {
        "import_s": t1 - t0,
        "build_s": t2 - t1,
        "render_s": t3 - t2,
        "write_s": t4 - t3,
        "synth_s": t4 - t1,
        "files": files,
    }


def measure(case: str, n: int | None) -> dict:
    result: dict = {"case": case, "n": n}
    if case.startswith("import-"):
        t0 = time.perf_counter()
        if case == "import-jsii":
            import constructs  # noqa: F401
        elif case == "import-cdk8s-plus":
            import cdk8s  # noqa: F401
            import cdk8s_plus_27  # noqa: F401
        else:
            import homelab_ai  # noqa: F401
        result["import_s"] = time.perf_counter() - t0
    else:
        outdir = Path(tempfile.mkdtemp(prefix="homelab-ai-bench-"))
        try:
            synth = _synth_library if case.startswith("lib-") else _synth_baseline
            result.update(synth(case, n, outdir))
        finally:
            shutil.rmtree(outdir, ignore_errors=True)
    result["python_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["node_peak_mib"] = node_peak_mib()
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in CASES:
        print(f"usage: python -m bench.measure {{{','.join(CASES)}}} [N]", file=sys.stderr)
        return 2
    n = int(argv[1]) if len(argv) > 1 else None
    if argv[0].endswith("-scale") and n is None:
        print("the scale cases need N", file=sys.stderr)
        return 2
    print(json.dumps(measure(argv[0], n)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
