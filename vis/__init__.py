"""vis: explain Keras 3 / TensorFlow 2 models, correctly and fast."""

__version__ = "0.1.0"
