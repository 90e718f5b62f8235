"""Longhorn storage: volumes, storage classes and recurring snapshot/backup jobs."""
