"""An encoder that averages the L2-normalised embeddings of several models (e.g. the k-fold models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from lex_dpr.utils.io import write_json

MEMBERS_FILE = "ensemble.json"


class EnsembleEncoder:
    """Mean of member embeddings, renormalised; loadable with :func:`lex_dpr.models.loading.load_encoder`.

    Example:
        >>> from lex_dpr.models.loading import load_encoder  # doctest: +SKIP
        >>> enc = load_encoder("runs/kfold/ensemble")  # doctest: +SKIP
        >>> enc.encode_query(["불법행위 손해배상"]).shape  # doctest: +SKIP
        (1, 512)
    """

    def __init__(self, members: list, paths: list[str] | None = None) -> None:
        dims = {m.get_embedding_dimension() for m in members}
        if len(dims) != 1:
            raise ValueError(f"ensemble members have different dimensions: {sorted(dims)}")
        self.members = members
        self.paths = paths or []

    def get_embedding_dimension(self) -> int:
        return self.members[0].get_embedding_dimension()

    def encode_query(self, texts: list[str], **kwargs) -> np.ndarray:
        kwargs.pop("normalize_embeddings", None)  # members are always normalised, and so is their mean
        return self._mean([m.encode_query(texts, normalize_embeddings=True, **kwargs) for m in self.members])

    def encode_document(self, texts: list[str], **kwargs) -> np.ndarray:
        kwargs.pop("normalize_embeddings", None)
        return self._mean([m.encode_document(texts, normalize_embeddings=True, **kwargs) for m in self.members])

    @staticmethod
    def _mean(embeddings: list[np.ndarray]) -> np.ndarray:
        mean = np.mean(np.stack(embeddings), axis=0)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    def save(self, folder: str | Path) -> None:
        """Write the member list (paths relative to ``folder``) and the metadata file."""
        import os

        from lex_dpr.models.metadata import ModelMetadata, write_metadata

        folder = Path(folder)
        rel = [os.path.relpath(Path(p).resolve(), folder.resolve()) for p in self.paths]
        write_json(folder / MEMBERS_FILE, {"members": rel})
        write_metadata(folder, ModelMetadata(kind="ensemble", architecture="EnsembleEncoder", base_model=None,
                                             adapter=False, query_prompt=None, passage_prompt=None,
                                             max_seq_length=None,
                                             embedding_dim=self.get_embedding_dimension()))

    @classmethod
    def load(cls, folder: str | Path, load_member) -> EnsembleEncoder:
        folder = Path(folder)
        rel = orjson.loads((folder / MEMBERS_FILE).read_bytes())["members"]
        paths = [str((folder / p).resolve()) for p in rel]
        return cls([load_member(p) for p in paths], paths)
