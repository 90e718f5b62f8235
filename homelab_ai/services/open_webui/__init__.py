"""Open WebUI: the chat front end wired to Ollama and Stable Diffusion."""
