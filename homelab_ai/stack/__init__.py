"""Whole stacks: every service of a namespace composed from one props class of site facts."""
