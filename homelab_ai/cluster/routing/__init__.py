"""Routes by name: Gateway API and Ingress routes, cert-manager Certificates, the per-app wiring."""
