"""`python -m homelab_ai.cli`: the same as the `homelab-ai` command."""

import sys

from homelab_ai.cli import main

sys.exit(main())
