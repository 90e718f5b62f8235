"""Day two: read-only checks of a live cluster against the chart (``homelab-ai doctor``) and restores."""
