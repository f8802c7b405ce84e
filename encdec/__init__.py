"""encdec: encoders, codes and decoders on MNIST-style digits.

    import encdec
    model = encdec.load("models/mnist-cnn-ae-16.safetensors")
    z = model.encode(x)          # (N,1,28,28) in [0,1] -> (N, k)
    x_hat = model.decode(z)      # (N, k) -> (N,1,28,28) in [0,1]
"""
from .checkpoint import CheckpointError, load, read_header, save
from .store import ModelInfo, ModelStore, shipped_store_dir, user_store_dir
from .data import DataError, Dataset, Split, load_dataset
from .models import CODE_DIM_RANGE, KINDS, ConfigError, EncoderDecoder, ModelConfig, build
from .nets import DECODERS, ENCODERS
from .train import (Progress, TrainConfig, TrainingError, TrainingStopped, evaluate, fit,
                    resolve_device, train_model)

__all__ = [
    "CheckpointError", "ModelInfo", "ModelStore", "load", "read_header", "save", "shipped_store_dir",
    "user_store_dir", "DataError", "Dataset", "Split", "load_dataset", "CODE_DIM_RANGE", "KINDS",
    "ConfigError", "EncoderDecoder", "ModelConfig", "build", "DECODERS", "ENCODERS", "Progress",
    "TrainConfig", "TrainingError", "TrainingStopped", "evaluate", "fit", "resolve_device", "train_model",
]
