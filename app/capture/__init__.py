"""Frames in through GStreamer: files and URIs, RTSP, V4L2 cameras, a test pattern."""
