"""Model artifacts: signing, verification and loading of deployed ONNX models."""
