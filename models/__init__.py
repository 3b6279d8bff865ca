"""Models: the base encoder loader and the task models built on it."""
