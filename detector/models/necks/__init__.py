"""Necks by name."""
