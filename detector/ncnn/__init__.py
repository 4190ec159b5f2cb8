"""Reading ncnn models (.param + .bin) and converting them to ONNX — no torch needed."""
