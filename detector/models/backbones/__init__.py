"""Backbones by name."""
