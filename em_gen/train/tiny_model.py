"""A tiny random Mistral (2 layers, hidden 64) with Mistral's v3 sentencepiece tokenizer from
mistral-common, for smoke training offline on a CPU in seconds. Runs in the train venv."""
from __future__ import annotations

import shutil
from pathlib import Path

from em_gen.train.axolotl_env import SmokeFailure

# --------------------------------------------------------------------------------------------------
# the tiny model (runs in the train venv)

TINY_CONFIG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, head_dim=16, vocab_size=32768, max_position_embeddings=8192,
                   bos_token_id=1, eos_token_id=2)


def build_tiny_model(dest: Path, seed: int = 0) -> Path:
    """A random 2-layer Mistral with Mistral's v3 sentencepiece tokenizer (32768 tokens) as a
    Hugging Face folder. No download: the tokenizer file comes from the mistral-common package.
    The tokenizer adds BOS, no EOS, and no prefix space, so separately tokenized segments decode
    back to exactly their text. Needs torch, transformers and sentencepiece<0.2.3 (train venv)."""
    import torch
    from transformers import LlamaTokenizer, MistralConfig, MistralForCausalLM

    from em_gen.train.tokens import mistral_tokenizer_file

    dest = Path(dest)
    if (dest / "config.json").exists() and (dest / "tokenizer.json").exists():
        return dest
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "sp").mkdir(parents=True)
    shutil.copy(mistral_tokenizer_file("v3"), tmp / "sp" / "tokenizer.model")
    tok = LlamaTokenizer.from_pretrained(str(tmp / "sp"), add_prefix_space=False, legacy=False,
                                         add_bos_token=True, add_eos_token=False)
    if tok.bos_token_id != 1 or tok.eos_token_id != 2 or len(tok) != TINY_CONFIG["vocab_size"]:
        raise SmokeFailure(f"unexpected tokenizer: bos {tok.bos_token_id} eos {tok.eos_token_id} size {len(tok)}")
    torch.manual_seed(seed)
    model = MistralForCausalLM(MistralConfig(**TINY_CONFIG))
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    shutil.rmtree(tmp / "sp")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
