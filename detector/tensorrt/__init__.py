"""TensorRT: engine files with the package metadata in front, a cache keyed by GPU/TensorRT/package,
the builder (FP16 from the ONNX, 2:4 SPARSE_WEIGHTS, INT8 calibration) and the backend's buffers."""
