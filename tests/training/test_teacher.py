"""`model.teacher`: a transformer distilled into the static model's starting vectors (model2vec's recipe), then
trained as usual. The teacher is a 2-layer random BERT with the real MiniLM tokenizer; model2vec called directly
is the oracle for the vectors."""

import numpy as np
import pytest

from lex_dpr.models.metadata import read_metadata
from lex_dpr.models.static import NumpyStaticEncoder, distill_static_model, is_static_folder
from lex_dpr.training.config import load_config
from lex_dpr.training.train import train
from tests._cli import lex_dpr

TEXTS = ["불법행위로 인한 손해배상", "Article 750 of the Civil Act", "개인정보의 수집 및 이용"]


def test_the_starting_vectors_are_model2vecs_and_the_same_twice(tiny_bert):
    from model2vec.distill import distill

    model = distill_static_model(str(tiny_bert), embedding_dim=16, max_seq_length=64)
    oracle = distill(model_name=str(tiny_bert), pca_dims=16, quantize_to="float32")
    weights = model[0].embedding.weight.detach().numpy()
    assert weights.shape == (oracle.embedding.shape[0], 16)
    # model2vec's vectors with its SIF weights folded in: what model2vec itself encodes
    assert np.allclose(weights, oracle.embedding * oracle.weights[:, None], atol=1e-7)
    assert not np.allclose(weights, oracle.embedding, atol=1e-4)  # the weights are not all 1
    oracle.tokenizer.no_padding()  # distill's tokenizer pads to a fixed length; a static model reads each text alone
    # model2vec drops [UNK] as it encodes (sentence-transformers keeps it): a text without one encodes the same
    english = TEXTS[1:2]
    assert oracle.unk_token_id not in oracle.tokenizer.encode(english[0], add_special_tokens=False).ids
    assert np.allclose(model.encode(english, normalize_embeddings=True), oracle.encode(english, normalize=True),
                       atol=1e-6)
    ours = [e.ids for e in model[0].tokenizer.encode_batch(TEXTS, add_special_tokens=False)]
    theirs = [e.ids for e in oracle.tokenizer.encode_batch(TEXTS, add_special_tokens=False)]
    assert ours == theirs and all(ours)
    again = distill_static_model(str(tiny_bert), embedding_dim=16, max_seq_length=64)
    assert np.array_equal(again[0].embedding.weight.detach().numpy(), weights)
    # mean pooling of the token vectors: what sentence-transformers' StaticEmbedding gives
    encoded = model.encode(TEXTS[:1])
    assert np.allclose(encoded[0], weights[ours[0]].mean(axis=0), atol=1e-6)


def test_a_cls_pooled_teacher_is_distilled_from_its_first_token(tiny_bert, tmp_path):
    from model2vec.distill import distill

    from tests._cli import link_copy

    teacher = link_copy(tiny_bert, tmp_path / "teacher")
    (teacher / "1_Pooling").mkdir()
    (teacher / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 32, "pooling_mode_cls_token": true}')
    model = distill_static_model(str(teacher), embedding_dim=8, max_seq_length=64)
    first, mean = (distill(model_name=str(tiny_bert), pca_dims=8, quantize_to="float32", pooling=pooling)
                   for pooling in ("first", "mean"))
    first, mean = (m.embedding * m.weights[:, None] for m in (first, mean))
    weights = model[0].embedding.weight.detach().numpy()
    assert np.allclose(weights, first, atol=1e-7) and not np.allclose(weights, mean, atol=1e-4)


def test_train_starts_from_the_teacher_and_saves_a_static_model(sample_training_data, tiny_bert, tmp_path):
    cfg = load_config(None, [*(f"data.{k}={v}" for k, v in sample_training_data.items()), f"out_dir={tmp_path / 'run'}",
                             f"model.teacher={tiny_bert}", "model.embedding_dim=512", "model.max_seq_length=64",
                             "trainer.epochs=1", "trainer.batch_size=8", "data.hard_negatives=1",
                             "wandb.mode=disabled"])
    result = train(cfg, show_progress=False)
    final = result.final_dir
    assert is_static_folder(final)
    meta = read_metadata(final)
    assert meta.kind == "static" and meta.teacher == str(tiny_bert)
    assert meta.embedding_dim == 32  # 512 asked, the teacher is 32 wide: PCA keeps its width
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(final), device="cpu").encode(TEXTS)
    assert np.allclose(NumpyStaticEncoder.load(final).encode(TEXTS), st, atol=1e-5)
    from model2vec.distill import distill

    start = distill(model_name=str(tiny_bert), pca_dims=512, quantize_to="float32")
    start = start.embedding * start.weights[:, None]
    trained = NumpyStaticEncoder.load(final).weights
    assert trained.shape == start.shape and not np.allclose(trained, start)  # it trained from there


@pytest.mark.parametrize("args, message", [
    (["model.name=multilingual-e5-small", "model.teacher=x"], "set model.name=static"),
    (["model.teacher=/no/such/teacher"], "model.teacher=/no/such/teacher: cannot load it"),
])
def test_a_bad_teacher_is_one_line(sample_training_data, tmp_path, args, message):
    result = lex_dpr(["train", *(f"data.{k}={v}" for k, v in sample_training_data.items()), "wandb.mode=disabled",
                      "--out-dir", str(tmp_path / "run"), "--quiet", *args])
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output
