#!/usr/bin/env python3
"""A stand-in for kubectl: answers ``get`` from recorded JSON files and writes down every call.

tests/doctor_cluster.py puts it on PATH as ``kubectl``. It reads its environment:

  FAKE_KUBECTL_FIXTURES  fixture folders, ``:``-separated; the first that has an answer wins, so a
                         broken cluster is a small overlay on the healthy one
  FAKE_KUBECTL_LOG       a file it appends each call's argv to (one JSON list per line)
  FAKE_KUBECTL_VARS      a JSON object; ``${NAME}`` in a fixture (and in its file name) is its value

Where an answer is looked up:

  get KIND NAME -n NS     NS/KIND.NAME.json
  get KIND -n NS          NS/KIND.json (a List; ``--selector k=v,...`` filters its items)
  get KIND [NAME]         _cluster/KIND[.NAME].json (no namespace)
  get KIND -A             _all/KIND.json
  get --raw /a/b:c/d      raw/a__b:c__d (the body as is)

A fixture ``{"kubectlError": "...", "exitCode": 1}`` is answered the way kubectl fails: the message
on stderr and that exit code. No fixture for an object: kubectl's NotFound; none for a list: an
empty List. Any verb but ``get``, and any flag the doctor does not use, fails loudly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from string import Template

EMPTY_LIST = {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def parse(argv: list[str]) -> dict[str, object] | str:
    """The call as {verb, kind, name, namespace, all, selector, raw, output}, or why it is not one we serve."""
    call: dict[str, object] = {"positional": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--context":
            call["context"] = argv[i + 1]
            i += 2
        elif arg in ("--namespace", "-n"):
            call["namespace"] = argv[i + 1]
            i += 2
        elif arg in ("--selector", "-l"):
            call["selector"] = argv[i + 1]
            i += 2
        elif arg in ("--output", "-o"):
            call["output"] = argv[i + 1]
            i += 2
        elif arg == "--raw":
            call["raw"] = argv[i + 1]
            i += 2
        elif arg in ("--all-namespaces", "-A"):
            call["all"] = True
            i += 1
        elif arg.startswith("-"):
            return f"fake kubectl: unexpected flag {arg!r}"
        else:
            call["positional"].append(arg)  # type: ignore[union-attr]
            i += 1
    positional: list[str] = call.pop("positional")  # type: ignore[assignment]
    if not positional or positional[0] != "get":
        return f"fake kubectl: refusing {' '.join(positional[:1]) or 'no verb'}: only `get` is served"
    call["verb"] = "get"
    rest = positional[1:]
    if "raw" in call:
        return call if not rest else f"fake kubectl: --raw takes no kind: {rest}"
    if call.get("output") != "json" or not 1 <= len(rest) <= 2:
        return f"fake kubectl: expected `get KIND [NAME] -o json`, got {argv}"
    call["kind"] = rest[0]
    call["name"] = rest[1] if len(rest) == 2 else None
    return call


def lookup(folders: list[Path], relative: str, variables: dict[str, str]) -> Path | None:
    """The first folder's file at ``relative``, also under its ``${VAR}`` name (a hashed Job name, say)."""
    candidates = [relative]
    for name, value in variables.items():
        if value and value in relative:
            candidates.append(relative.replace(value, f"${{{name}}}"))
    for folder in folders:
        for candidate in candidates:
            path = folder / candidate
            if path.is_file():
                return path
    return None


def matches(item: dict, selector: str) -> bool:
    labels = (item.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_KUBECTL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")
    call = parse(argv)
    if isinstance(call, str):
        return fail(call, 2)
    folders = [Path(p) for p in os.environ.get("FAKE_KUBECTL_FIXTURES", "").split(":") if p]
    variables = json.loads(os.environ.get("FAKE_KUBECTL_VARS") or "{}")
    if "raw" in call:
        relative = "raw/" + str(call["raw"]).strip("/").replace("/", "__")
    else:
        scope = "_all" if call.get("all") else str(call.get("namespace") or "_cluster")
        relative = f"{scope}/{call['kind']}" + (f".{call['name']}" if call["name"] else "") + ".json"
    path = lookup(folders, relative, variables)
    if path is None:
        if "raw" in call:
            return fail(
                f"Error from server (NotFound): the server could not find the requested resource (get {relative})"
            )
        if call["name"]:
            return fail(f'Error from server (NotFound): {call["kind"]} "{call["name"]}" not found')
        print(json.dumps(EMPTY_LIST, indent=4))
        return 0
    text = Template(path.read_text(encoding="utf-8")).substitute(variables)
    if text.lstrip().startswith("{"):
        answer = json.loads(text)
        if isinstance(answer, dict) and "kubectlError" in answer:
            return fail(answer["kubectlError"], int(answer.get("exitCode", 1)))
        if "raw" not in call and call.get("selector") and isinstance(answer.get("items"), list):
            answer["items"] = [i for i in answer["items"] if matches(i, str(call["selector"]))]
        if "raw" not in call:
            text = json.dumps(answer, indent=4)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
