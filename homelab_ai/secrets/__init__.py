"""SOPS-encrypted secrets: the SopsSecret construct, the sops and age helpers, and secret files' setup."""
