"""Generating images: one per seed, the same whatever the batch size (``mubench sample``)."""
