"""The exported ABI surface of shared objects: dump, diff and linkable stubs."""
