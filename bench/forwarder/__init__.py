"""The framework's ceiling: a minimal Django async view that only forwards to the upstream."""
