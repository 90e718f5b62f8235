"""Cluster building blocks: workloads, hardening, Pod Security, NetworkPolicies, load balancers, Flux."""
