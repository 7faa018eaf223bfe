"""Training recipes: ``python -m workstation.training <model> [options]``.

Subcommands (one per shipped model; each reproduces its weights in ``models/``):

    f0        the PESTO-style f0 model ``pitch.f0.pesto`` (``train_f0``)
    salience  the DeepSalience-style multi-f0 model ``salience`` (``train_salience``)
    beats     the beat / downbeat TCN ``beats`` (``train_beats``)
    tags      the short-chunk CNN tagger ``tags`` (``train_tags``)
    key       the ChromaNet-style key model ``key`` (``train_key``)
    embedding the contrastive track embedding ``embedding`` (``train_embedding``)
    crepe-ft  pretrained CREPE tiny fine-tuned on the corpus ``pitch.f0.crepe-tiny-ft`` (``train_crepe``)
    crepe-kd  pretrained CREPE tiny distilled from CREPE full on real music ``pitch.f0.crepe-tiny-kd``
              (``train_crepe_kd``)

``python -m workstation.training <model> --help`` lists a recipe's options.
"""

from __future__ import annotations

import importlib
import sys

#: subcommand -> module with ``main(argv) -> int``; later recipes (salience, key, ...) add a line.
RECIPES: dict[str, str] = {
    "f0": "workstation.training.train_f0",
    "salience": "workstation.training.train_salience",
    "beats": "workstation.training.train_beats",
    "tags": "workstation.training.train_tags",
    "key": "workstation.training.train_key",
    "embedding": "workstation.training.train_embedding",
    "crepe-ft": "workstation.training.train_crepe",
    "crepe-kd": "workstation.training.train_crepe_kd",
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in RECIPES:
        if argv and argv[0] not in ("-h", "--help"):
            sys.stderr.write(f"unknown recipe {argv[0]!r}\n")
        sys.stderr.write(__doc__ + "\nrecipes: " + ", ".join(sorted(RECIPES)) + "\n")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return int(importlib.import_module(RECIPES[argv[0]]).main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
