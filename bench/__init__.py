"""Load and overhead benchmarks of the gateway against fake upstreams (not tests).

``python -m bench`` runs the whole comparison; see bench/README.md.
"""
