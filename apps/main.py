"""`python -m apps.main [OUTDIR]`: synthesize the `ai` namespace into dist/ (or OUTDIR, or $CDK8S_OUTDIR)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from apps.homelab import REPO_ROOT, build
from homelab_ai.cli.synth import synth_and_report


def main(argv: list[str]) -> int:
    # The cdk8s CLI passes its output folder in CDK8S_OUTDIR; `make synth` uses dist/.
    default = os.environ.get("CDK8S_OUTDIR") or REPO_ROOT / "dist"
    outdir = Path(argv[0]) if argv else Path(default)
    return synth_and_report(build, outdir)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
