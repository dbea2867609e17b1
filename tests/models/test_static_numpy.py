"""The numpy static encoder gives sentence-transformers' vectors for a trained static model, without torch."""

import subprocess
import sys

import numpy as np
import orjson

from lex_dpr.models.loading import load_encoder, load_query_encoder
from lex_dpr.models.static import NumpyStaticEncoder, is_static_folder


def test_same_vectors_as_sentence_transformers(trained_run, sample_training_data):
    texts = [orjson.loads(x)["text"] for x in sample_training_data["passages"].read_bytes().splitlines()]
    queries = [orjson.loads(x)["query_text"] for x in sample_training_data["pairs"].read_bytes().splitlines()]
    queries += ["", "   ", "민법", "x" * 5000]  # empty bag → zeros, as EmbeddingBag gives; truncation as saved
    reference = load_encoder(trained_run, device="cpu")
    light = load_query_encoder(trained_run)
    assert isinstance(light, NumpyStaticEncoder)
    for name in ("encode_query", "encode_document"):
        for batch in (texts, queries):
            for normalize in (True, False):
                want = getattr(reference, name)(batch, normalize_embeddings=normalize, convert_to_numpy=True)
                got = getattr(light, name)(batch, normalize_embeddings=normalize)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert light.get_embedding_dimension() == reference.get_embedding_dimension()


def test_prompts_are_prepended_like_sentence_transformers(trained_run, tmp_path):
    import shutil

    folder = shutil.copytree(trained_run / "bi_encoder" / "final", tmp_path / "final")
    config = orjson.loads((folder / "config_sentence_transformers.json").read_bytes())
    config["prompts"] = {"query": "질문: ", "document": "조문: "}
    (folder / "config_sentence_transformers.json").write_bytes(orjson.dumps(config))
    reference = load_encoder(folder, device="cpu")
    light = NumpyStaticEncoder.load(folder)
    for name in ("encode_query", "encode_document"):
        np.testing.assert_allclose(getattr(light, name)(["손해배상 책임"]),
                                   getattr(reference, name)(["손해배상 책임"], convert_to_numpy=True), rtol=1e-5, atol=1e-6)


def test_only_static_folders_take_the_numpy_path(trained_run, tiny_bert, tmp_path):
    assert is_static_folder(trained_run / "bi_encoder" / "final")
    assert not is_static_folder(tiny_bert) and not is_static_folder(tmp_path)
    (tmp_path / "modules.json").write_text("not json")
    assert not is_static_folder(tmp_path)


def test_answering_from_a_static_index_never_imports_torch(trained_run, sample_training_data, tmp_path):
    from lex_dpr.retrieval.index import build_index

    build_index(sample_training_data["passages"], tmp_path / "index", model=str(trained_run))
    code = ("import sys; from lex_dpr.rag.answer import open_answerer; "
            f"a = open_answerer({str(tmp_path / 'index')!r}); ans = a.answer(['불법행위 손해배상'])[0]; "
            "assert len(ans.contexts) == 6; "
            "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
