"""Stage one: encoder/decoder families around a k-means product quantizer, and their training."""

from .codebook import usage_statistics
from .config import QuantizerConfig
from .evaluate import evaluate_quantizer
from .families import (
    FAMILIES,
    ConvEncoderDecoder,
    EncoderFamily,
    GRUEncoderDecoder,
    register_family,
)
from .models import BehaviorQuantizer
from .product_quantizer import ProductQuantizer, kmeans
from .saving import load_quantizer, save_quantizer
from .train import train_quantizer

__all__ = [
    "FAMILIES", "BehaviorQuantizer", "ConvEncoderDecoder", "EncoderFamily", "GRUEncoderDecoder", "ProductQuantizer",
    "QuantizerConfig", "evaluate_quantizer", "kmeans", "load_quantizer", "register_family", "save_quantizer",
    "train_quantizer", "usage_statistics",
]
