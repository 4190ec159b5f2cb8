"""Kestrel's application: CLI, capture, pipeline, overlay, sinks, GUI. Never imports torch."""
