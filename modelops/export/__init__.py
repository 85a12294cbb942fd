"""Training code: models fitted offline and exported to ONNX (IsolationForest, autoencoder,
envelope, subspace). The worker only loads and scores them (``agents.detectors``); it needs
neither scikit-learn nor skl2onnx."""
