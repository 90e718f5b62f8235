"""cdk8s bindings generated from the CRDs in crds/ (`make imports`); not public API.

They live inside the package, not in a top-level ``imports/``: every cdk8s project has its own
``imports/``, and it would shadow (or be shadowed by) ours.
"""
