"""Signals computed on every picture: a copy-detection descriptor and a perceptual hash."""

from firstseen.signals.descriptor import Descriptor, OnnxDescriptor, model_key
from firstseen.signals.pdq import PDQ_BITS, PdqHash, pdq_distance, pdq_hash

__all__ = [
    "PDQ_BITS",
    "Descriptor",
    "OnnxDescriptor",
    "PdqHash",
    "model_key",
    "pdq_distance",
    "pdq_hash",
]
