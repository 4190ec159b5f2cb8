"""The desktop GUI (PyQt6): one more consumer of the capture → detect pipeline and the shared overlay."""
