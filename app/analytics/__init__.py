"""Objects over time: tracking, object events (and later zones, lines and rules), fed one frame's
Detections and its timestamp at a time, so every job (run, gui, replay, serve, a benchmark) shares them."""
