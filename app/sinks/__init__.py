"""Where annotated frames and detections go: recordings, event logs, RTSP re-streams."""
