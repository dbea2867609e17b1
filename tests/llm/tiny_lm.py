"""A tiny random Qwen2 causal LM with a real byte-level BPE tokenizer and a Qwen chat template.

The RAG and synth tests import :func:`build_tiny_lm` too. Random weights say gibberish: tests check the
mechanics (how many answers, their order, limits, banned tokens, seeds), never the words.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "민법 제750조 고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다.",
    "근로기준법 제23조 사용자는 근로자에게 정당한 이유 없이 해고, 휴직, 정직, 전직, 감봉, 그 밖의 징벌을 하지 못한다.",
    "대법원 2020다12345 판결: 원심판결을 파기하고, 사건을 서울고등법원에 환송한다.",
    "질문: 부당해고를 당하면 어떻게 해야 하나요? 답변: 노동위원회에 구제신청을 할 수 있습니다.",
    "system user assistant context question answer law article court judgment <image> <img> 0123456789",
    "The quick brown fox jumps over the lazy dog. Korean statutes, precedents and administrative rules.",
]


def tiny_tokenizer(vocab_size: int = 400, chat_template: bool = True):
    """A byte-level BPE trained on a few Korean and ASCII lines, wrapped as a fast HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIALS[1:])
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_lm(folder: str | Path, seed: int = 0, chat_template: bool = True) -> Path:
    """Save a 2-layer, 32-wide Qwen2ForCausalLM (random weights, seeded) and its tokenizer to ``folder``.

    Example:
        >>> from transformers import AutoModelForCausalLM  # doctest: +SKIP
        >>> AutoModelForCausalLM.from_pretrained(build_tiny_lm(tmp_path / "lm"))  # doctest: +SKIP
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    tokenizer = tiny_tokenizer(chat_template=chat_template)
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False, bos_token_id=None,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
