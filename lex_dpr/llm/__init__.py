"""Text generators behind one interface: a local HF causal LM or any OpenAI-compatible server."""
