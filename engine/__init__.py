"""seq2seq engine: corpus → vocabulary → model → training → translation → evaluation.

The engine never imports `repl`; the command-line tools are thin layers on top of it.
"""

import os

# Quieten TensorFlow's C++ start-up chatter before anything imports it; users can override.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
