"""Ollama: the LLM backend and the Job that pulls its declared models."""
