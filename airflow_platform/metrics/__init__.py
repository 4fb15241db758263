"""Metrics: the catalogue (a leaf anything may import), and apart from it the StatsD
emitter (``emit``). Importing this package imports neither."""
