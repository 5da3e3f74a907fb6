"""Training: Axolotl exports, token lengths with the real Mistral tokenizers, smoke training."""
