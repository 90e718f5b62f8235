"""`make mutate`: mutation testing (mutmut) of the safety-critical modules, with focused tests.

A mutant is a one-line bug (``>`` made ``>=``, a string emptied, a call dropped); a mutant that
no test notices shows a behaviour nothing holds. The modules, their focused tests and the
equivalent mutants (the ones no test can tell apart, each with its reason) are in
``bench/mutation.toml``. Golden tests (``-m golden``: snapshot, committed dist/ and docs/) are left
out on purpose: a mutant only counts as killed when a behavioural test catches it. So are the tests
that render the spec's whole chart (``-m spec_chart``, seconds each): the focused tests use small charts.

Each group runs in its own copy of the project under ``.mutate/<group>/`` (mutmut mutates a copy,
never the work tree). The group whose tests need cdk8s tests one mutant at a time: jsii keeps one
Node process per Python process, which every forked child shares.

    python -m bench.mutate                  # every group; prints the score per module and the survivors
    python -m bench.mutate --group scripts  # one group
    python -m bench.mutate --report         # the table from the last run, without running again

Exits 1 when a module scores below the threshold in bench/mutation.toml.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = REPO_ROOT / "bench/mutation.toml"
WORK = REPO_ROOT / ".mutate"
# What the focused tests read besides the package: the chart, CRDs, the SOPS rule, test data.
COPIED = ("homelab_ai", "tests", "apps", "crds", ".sops.yaml", "cdk8s.yaml", "pyproject.toml")
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
MAX_DIFFS = 120
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-m", "not golden and not spec_chart"]
RESULT_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")


def load_config(path: Path = CONFIG) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def module_of(mutant: str) -> str:
    """``homelab_ai.gpu.budget.xǁGpuBudgetǁ_errors__mutmut_10`` -> ``homelab_ai/gpu/budget.py``."""
    dotted = mutant.rsplit(".", 1)[0]
    return dotted.replace(".", "/") + ".py"


def _mutmut_settings(group: Mapping) -> str:
    """The [tool.mutmut] table for one group."""

    def toml_list(items: Iterable[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    deselected = [arg for test in group.get("deselect", []) for arg in ("--deselect", test)]

    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["homelab_ai"]',
            'also_copy = ["apps", "crds", ".sops.yaml", "cdk8s.yaml"]',
            f"only_mutate = {toml_list(group['modules'])}",
            f"pytest_add_cli_args_test_selection = {toml_list(group['tests'])}",
            f"pytest_add_cli_args = {toml_list(PYTEST_ARGS + deselected)}",
            f'process_isolation = "{group["isolation"]}"',
            'forkserver_warmup = "none"',
            # A mutant that hangs (a timeout dropped, a loop that never ends) is stopped after this many
            # times the tests' own duration plus a second; mutmut's default of 15 cost minutes per hang.
            f"timeout_multiplier = {group.get('timeout_multiplier', 4)}",
            "use_git_change_detection = false",
            "",
        ]
    )


def prepare(group: Mapping) -> Path:
    """A fresh copy of the project for ``group``, with its mutmut settings."""
    work = WORK / group["name"]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "mutants")
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, work / name)
    pyproject = work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + _mutmut_settings(group))
    return work


def run_group(group: Mapping, children: int) -> float:
    """Run mutmut for one group; its log goes to .mutate/<group>.log. Returns the seconds it took."""
    work = prepare(group)
    log = WORK / f"{group['name']}.log"
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", SOPS_DISABLE_VERSION_CHECK="1")
    started = time.monotonic()
    print(f"mutate: {group['name']}: {len(group['modules'])} module(s), tests {' '.join(group['tests'])}", flush=True)
    with log.open("w") as out:
        result = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(group.get("children", children))],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    took = time.monotonic() - started
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"mutate: mutmut failed for group {group['name']} (see {log}):\n{tail}")
    print(f"mutate: {group['name']}: done in {took:.0f} s", flush=True)
    return took


def results(group: Mapping) -> dict[str, str]:
    """mutant name -> status ('killed', 'survived', 'no tests', ...) from the group's last run."""
    work = WORK / group["name"]
    if not (work / "mutants").is_dir():
        return {}
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        match = RESULT_LINE.match(line)
        if match and "__mutmut_" in match["name"]:
            found[match["name"]] = match["status"].strip()
    return found


def diff_of(group: Mapping, mutant: str) -> str:
    """The mutated line(s) of ``mutant``, for the survivor list."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant],
        cwd=WORK / group["name"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    changed = [line for line in out.splitlines() if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
    return " | ".join(line.strip() for line in changed[:4])


def score_table(config: Mapping, statuses: Mapping[str, Mapping[str, str]]) -> tuple[list[dict], list[tuple]]:
    """Per module: mutants, killed, equivalent, survived, score; and the unexplained survivors."""
    equivalent: Mapping[str, str] = config.get("equivalent", {})
    rows, survivors = [], []
    for group in config["group"]:
        found = statuses.get(group["name"], {})
        for module in group["modules"]:
            counts: Counter[str] = Counter()
            for mutant, status in sorted(found.items()):
                if module_of(mutant) != module:
                    continue
                if mutant in equivalent:
                    counts["equivalent"] += 1
                elif status in KILLED:
                    counts["killed"] += 1
                else:
                    counts["survived"] += 1
                    survivors.append((group, module, mutant, status))
            total = sum(counts.values())
            judged = total - counts["equivalent"]
            score = counts["killed"] / judged if judged else 1.0
            rows.append(
                {
                    "module": module,
                    "group": group["name"],
                    "mutants": total,
                    "killed": counts["killed"],
                    "equivalent": counts["equivalent"],
                    "survived": counts["survived"],
                    "score": score,
                }
            )
    return rows, survivors


def print_report(config: Mapping, statuses: Mapping[str, Mapping[str, str]], *, diffs: bool = True) -> bool:
    """Print the table and the survivors; True when every module reaches the threshold."""
    threshold = float(config.get("threshold", 0.9))
    rows, survivors = score_table(config, statuses)
    print()
    print("| module | mutants | killed | equivalent | survived | score (killed / non-equivalent) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['module']} | {row['mutants']} | {row['killed']} | {row['equivalent']} | {row['survived']} | "
            f"{row['score']:.1%} |"
        )
    total = {key: sum(row[key] for row in rows) for key in ("mutants", "killed", "equivalent", "survived")}
    judged = total["mutants"] - total["equivalent"]
    overall = total["killed"] / judged if judged else 1.0
    print(
        f"| **all** | {total['mutants']} | {total['killed']} | {total['equivalent']} | {total['survived']} | "
        f"{overall:.1%} |"
    )
    if survivors:
        print(f"\nsurvivors ({len(survivors)}; list real equivalents in {CONFIG.relative_to(REPO_ROOT)}):")
        # `mutmut show` takes about a second each: the changed lines only for a short list.
        with_diffs = diffs and len(survivors) <= MAX_DIFFS
        for group, _module, mutant, status in survivors:
            detail = f"  {diff_of(group, mutant)}" if with_diffs else ""
            print(f"  {mutant} ({status}){detail}")
        if not with_diffs:
            print(f"  (more than {MAX_DIFFS}: see one with `cd .mutate/<group> && mutmut show <name>`)")
    stale = sorted(set(config.get("equivalent", {})) - {m for found in statuses.values() for m in found})
    if stale and all(statuses.values()):
        print(f"\nequivalent entries that name no mutant of this run (remove them): {', '.join(stale)}")
    low = [row for row in rows if row["mutants"] and row["score"] < threshold]
    if low:
        print(f"\nbelow {threshold:.0%}: {', '.join(row['module'] for row in low)}")
    return not low


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", action="append", help="run only this group (repeatable)")
    parser.add_argument("--report", action="store_true", help="print the last run's table without running")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2, the cores)")
    args = parser.parse_args(argv)
    config = load_config()
    groups = [g for g in config["group"] if not args.group or g["name"] in args.group]
    if args.group and len(groups) != len(args.group):
        known = ", ".join(g["name"] for g in config["group"])
        raise SystemExit(f"mutate: unknown group in {args.group}; groups are {known}")
    started = time.monotonic()
    if not args.report:
        for group in groups:
            run_group(group, args.children)
        print(f"mutate: all groups done in {time.monotonic() - started:.0f} s")
    statuses = {g["name"]: results(g) for g in config["group"]}
    return 0 if print_report(config, statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
