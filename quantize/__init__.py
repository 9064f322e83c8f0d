"""Stage one: encoder/decoder families around a k-means product quantizer, and their training."""

from .checkpoint import load_quantizer, save_quantizer
from .config import QuantizerConfig
from .evaluate import balanced_accuracy, codebook_usage, evaluate_quantizer
from .models import BehaviorQuantizer, ConvEncoderDecoder, GRUEncoderDecoder
from .product_quantizer import ProductQuantizer, kmeans
from .train import format_table, train_quantizer

__all__ = [
    "BehaviorQuantizer", "ConvEncoderDecoder", "GRUEncoderDecoder", "ProductQuantizer", "QuantizerConfig",
    "balanced_accuracy", "codebook_usage", "evaluate_quantizer", "format_table", "kmeans", "load_quantizer",
    "save_quantizer", "train_quantizer",
]
