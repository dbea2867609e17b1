"""A local Hugging Face causal LM as a :class:`~lex_dpr.llm.base.Generator` (``transformers:MODEL``).

The model's chat template turns each conversation into a prompt; prompts are generated in left-padded
batches of ``batch_size``. On CUDA the model runs in bf16 (fp16 where bf16 is missing) or, when asked,
8-bit/4-bit through bitsandbytes; on CPU in fp32. ``do_sample=False`` (or ``temperature=0``) is greedy
decoding, so the same prompt gives the same answer alone or in a batch.

Example:
    >>> gen = TransformersGenerator("path/to/qwen2.5-0.5b-instruct", GenerationConfig())  # doctest: +SKIP
    >>> gen.generate([[{"role": "user", "content": "민법 제750조의 요건은?"}]], GenerationConfig())[0].text  # doctest: +SKIP
    '고의 또는 과실, 위법성, 손해, 인과관계입니다.'
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.llm.banned import bad_words_ids, strip_banned
from lex_dpr.llm.base import Generation, GenerationConfig, Message
from lex_dpr.utils.hashing import sha256_hex

log = logging.getLogger(__name__)

_QUANT_FIX = "needs a CUDA GPU and bitsandbytes; drop the flag"


class TransformersGenerator:
    """``AutoModelForCausalLM`` + ``AutoTokenizer`` from a hub id or a local folder.

    Args:
        model: a hub id (``HF_HUB_OFFLINE=1`` reads only the local cache) or a folder from ``save_pretrained``.
        config: the loading settings are read here (``load_in_8bit``, ``load_in_4bit``, ``llm_int8_threshold``,
            ``trust_remote_code``); sampling settings are read from the config given to :meth:`generate`.
        device: ``"cuda"``, ``"cuda:1"``, ``"cpu"``...; ``None``: CUDA when available.

    Raises:
        ConfigError: 8-bit/4-bit without CUDA or without bitsandbytes, or both at once.
        InputError: the model or its tokenizer cannot be loaded (missing, offline, not a causal LM).
    """

    def __init__(self, model: str, config: GenerationConfig, device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if config.problems():
            raise ConfigError("; ".join(config.problems()))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        quantized = config.load_in_8bit or config.load_in_4bit
        if quantized:
            flag = "--load-in-8bit" if config.load_in_8bit else "--load-in-4bit"
            if not self.device.startswith("cuda") or not torch.cuda.is_available():
                raise ConfigError(f"{flag} {_QUANT_FIX} (device is {self.device!r})")
            if importlib.util.find_spec("bitsandbytes") is None:
                raise ConfigError(f"{flag} {_QUANT_FIX} (bitsandbytes is not installed)")
        if Path(model).is_dir():
            from lex_dpr.utils.lfs import require_no_lfs_pointers

            if not (Path(model) / "config.json").is_file():
                raise InputError(f"{model!r} has no config.json: pass a folder written by save_pretrained, or a hub id")
            require_no_lfs_pointers(model)
        kwargs: dict = {"trust_remote_code": config.trust_remote_code}
        if quantized:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_8bit=config.load_in_8bit, load_in_4bit=config.load_in_4bit,
                llm_int8_threshold=config.llm_int8_threshold,
                bnb_4bit_compute_dtype=torch.bfloat16 if config.load_in_4bit else None)
            index = torch.device(self.device).index
            kwargs["device_map"] = {"": torch.cuda.current_device() if index is None else index}
        else:
            kwargs["dtype"] = _dtype(self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=config.trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(model, **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(_load_error(model, exc)) from None
        if not quantized:
            self.model.to(self.device)
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._eos = _eos_ids(self.model, self.tokenizer)
        self._warned_template = False
        commit = getattr(self.model.config, "_commit_hash", None)
        version = _folder_stamp(Path(model)) if Path(model).is_dir() else commit
        self.name = f"transformers:{model}"
        self.fingerprint = self.name + (f"@{version}" if version else "") + (
            ":8bit" if config.load_in_8bit else ":4bit" if config.load_in_4bit else "")

    def prompt(self, conversation: list[Message]) -> str:
        """The text the model continues: its chat template with the assistant turn opened.

        Without a chat template (a base model), one warning and ``role: content`` lines ending in ``assistant:``.
        """
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        if not self._warned_template:
            log.warning("%s has no chat template: prompting with plain 'role: content' lines", self.name)
            self._warned_template = True
        return "".join(f"{m['role']}: {m['content']}\n" for m in conversation) + "assistant:"

    def generate(self, conversations: Sequence[list[Message]], config: GenerationConfig) -> list[Generation]:
        """One :class:`Generation` per conversation, in order; batches of ``config.batch_size``.

        Raises:
            ConfigError: a banned token id outside the model's vocabulary.
        """
        from transformers import set_seed

        gen_config = self._generation_config(config)
        prompts = [self.prompt(list(c)) for c in conversations]
        set_seed(config.seed)
        out: list[Generation] = []
        for start in range(0, len(prompts), config.batch_size):
            out.extend(self._generate_chunk(prompts[start:start + config.batch_size], gen_config))
        return [Generation(strip_banned(g.text, config.banned_strings).strip(), g.error, g.prompt_tokens,
                           g.completion_tokens) for g in out]

    def _generation_config(self, config: GenerationConfig):
        from transformers import GenerationConfig as HFGenerationConfig

        vocab = self.model.config.get_text_config().vocab_size  # the width of the logits
        wrong = [i for i in config.banned_token_ids if not 0 <= i < vocab]
        if wrong:
            raise ConfigError(f"generation.banned_token_ids: {wrong} are outside {self.name}'s vocabulary "
                              f"(0..{vocab - 1}): remove them")
        sample = config.do_sample and config.temperature > 0
        kwargs: dict = {"max_new_tokens": config.max_new_tokens, "do_sample": sample,
                        "repetition_penalty": config.repetition_penalty,
                        "pad_token_id": self.tokenizer.pad_token_id, "eos_token_id": self._eos}
        if sample:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k or None)
        banned = bad_words_ids(self.tokenizer, config.banned_strings, config.banned_token_ids)
        banned = [seq for seq in banned if len(seq) > 1 or seq[0] not in self._eos]  # answers may still end
        if banned:
            kwargs["bad_words_ids"] = banned
        return HFGenerationConfig(**kwargs)

    @torch.inference_mode()
    def _generate_chunk(self, prompts: list[str], gen_config) -> list[Generation]:
        templated = bool(getattr(self.tokenizer, "chat_template", None))  # a template writes its own BOS
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not templated)
        batch = batch.to(self.model.device)
        try:
            output = self.model.generate(**batch, generation_config=gen_config)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if len(prompts) == 1:
                return [Generation("", error="out of GPU memory: lower generation.max_new_tokens or "
                                               "generation.batch_size, or use --load-in-4bit")]
            half = len(prompts) // 2
            return self._generate_chunk(prompts[:half], gen_config) + self._generate_chunk(prompts[half:], gen_config)
        new = output[:, batch["input_ids"].shape[1]:].tolist()
        prompt_tokens = batch["attention_mask"].sum(dim=1).tolist()
        result = []
        for ids, n_prompt in zip(new, prompt_tokens, strict=True):
            ends = [k for k, t in enumerate(ids) if t in self._eos]
            ids = ids[:ends[0] + 1] if ends else ids
            text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            result.append(Generation(text, prompt_tokens=int(n_prompt), completion_tokens=len(ids)))
        return result


def _dtype(device: str):
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _folder_stamp(folder: Path) -> str:
    """A short hash of a local model's files (names, sizes, modification times): retrained weights, new key."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return sha256_hex(stamp, 12)


def _eos_ids(model, tokenizer) -> list[int]:
    """Every id that ends an answer: the model's generation config's (Qwen lists two) and the tokenizer's."""
    found = model.generation_config.eos_token_id
    ids = list(found) if isinstance(found, (list, tuple)) else [found] if found is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return [int(i) for i in ids]


def _load_error(model: str, exc: Exception) -> str:
    first = " ".join(str(exc).split()) or type(exc).__name__
    first = first if len(first) <= 300 else first[:299] + "…"
    if Path(model).exists():
        return f"cannot load causal LM from {model!r}: {first}"
    from huggingface_hub import is_offline_mode  # what from_pretrained obeyed ($HF_HUB_OFFLINE when first imported)

    offline = is_offline_mode()
    fix = ("HF_HUB_OFFLINE is set and it is not in the local cache: pass a local folder, or unset HF_HUB_OFFLINE "
           "to download it") if offline else "check the hub id, or pass a local folder (no network? set HF_HUB_OFFLINE=1)"
    return f"cannot load causal LM {model!r}: {first} ({fix})"
