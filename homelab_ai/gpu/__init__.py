"""The shared GPU: time-slicing, the device plugin, the RuntimeClass, GPU apps and their VRAM budget."""
