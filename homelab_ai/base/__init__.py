"""Base values and validators: errors, validated value types, the one cdk8s-plus import. Imports nothing above it."""
