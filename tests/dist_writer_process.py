"""`python -m tests.dist_writer_process OUTDIR FILES_JSON`: homelab_ai's dist/ writer alone in a process.

tests/test_dist_faults.py kills it at every step of the write (HOMELAB_AI_FAULT). It loads the
writer without running homelab_ai/__init__.py, which imports every construct and starts the jsii
runtime (about a second per process); the writer itself needs only homelab_ai.base.errors.
FILES_JSON is ``{path: text}`` of a rendered tree.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(outdir: str, files_json: str) -> int:
    package = types.ModuleType("homelab_ai")
    package.__path__ = [str(ROOT / "homelab_ai")]
    sys.modules.setdefault("homelab_ai", package)
    from homelab_ai.base.errors import HomelabConfigError
    from homelab_ai.synth.dist_writer import write_tree

    files = [
        types.SimpleNamespace(path=p, content=t.encode()) for p, t in json.loads(Path(files_json).read_text()).items()
    ]
    try:
        write_tree(files, Path(outdir))
    except HomelabConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
