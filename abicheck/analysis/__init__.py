"""Stage 3, resolution: where each NEEDED library and undefined symbol will come from."""
