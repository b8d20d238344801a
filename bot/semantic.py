"""Sentence embeddings for ranking past incidents, with the optional extra `pip install 'opsbot[semantic]'`.

The model is WordLlama's l2_supercat (256 dimensions: a table of token vectors, averaged over a text), whose weights
and tokenizer both ship inside the `wordllama` wheel. They are read here straight from the installed package's
files, on the CPU: nothing is fetched, ever (`WordLlama.load()` looks for the tokenizer in `tokenizer/` while the
wheel has `tokenizers/`, then asks the model hub). The package itself is not imported either: importing it
configures the root logger (`logging.basicConfig`), which is the app's to do.

Without the extra, `load_embedder()` is None and search ranks by full text alone.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("opsbot.search")
MODEL = "wordllama l2_supercat 256"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_WEIGHTS = "weights/l2_supercat_256.safetensors"
MAX_TOKENS = 512  # an incident's first words say what it was; a long timeline would only blur its vector


class Embedder:
    """Texts to unit vectors (float32 bytes, little-endian): the cosine of two is their dot product."""

    def __init__(self, package_dir: Path):
        import numpy as np
        from safetensors import safe_open
        from tokenizers import Tokenizer

        self._np = np
        self._tokenizer = Tokenizer.from_file(str(package_dir / _TOKENIZER))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        with safe_open(str(package_dir / _WEIGHTS), framework="np", device="cpu") as weights:
            self._table: Any = np.ascontiguousarray(weights.get_tensor("embedding.weight"), dtype=np.float32)

    def embed(self, texts: list[str]) -> list[bytes]:
        np, vectors = self._np, []
        for encoding in self._tokenizer.encode_batch(texts, add_special_tokens=False):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(self._table) - 1)
            vector = self._table[ids].mean(axis=0) if len(ids) else np.zeros(self._table.shape[1], np.float32)
            norm = float(np.linalg.norm(vector))
            vectors.append((vector / norm if norm else vector).astype("<f4").tobytes())
        return vectors


def load_embedder() -> Embedder | None:
    """The embedder when the extra is installed, else None (full-text ranking alone)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        log.info("semantic ranking off: the extra opsbot[semantic] is not installed")
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    try:
        return Embedder(package_dir)
    except (ImportError, OSError) as exc:
        log.warning("semantic ranking off: %s cannot be loaded from %s (%s)", MODEL, package_dir, exc)
        return None
