"""Internal helpers: argument validation, distribution, precision."""
