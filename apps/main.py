"""`python -m apps.main [OUTDIR]`: synthesize the `ai` namespace into dist/ (or OUTDIR, or $CDK8S_OUTDIR)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from apps.homelab import REPO_ROOT, build
from homelab_ai.dist import synthesize
from homelab_ai.errors import HomelabConfigError, SynthError


def main(argv: list[str]) -> int:
    # The cdk8s CLI passes its output folder in CDK8S_OUTDIR; `make synth` uses dist/.
    default = os.environ.get("CDK8S_OUTDIR") or REPO_ROOT / "dist"
    outdir = Path(argv[0]) if argv else Path(default)
    try:
        files = synthesize(build, outdir)
    except (SynthError, HomelabConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files to {outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
