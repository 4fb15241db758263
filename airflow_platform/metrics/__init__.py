"""Metrics: the catalogue (a leaf anything may import), and apart from it the Pushgateway
emitter (``push``). Importing this package imports neither."""
