"""The AI services of the stack, each with the in-pod programs it ships."""
