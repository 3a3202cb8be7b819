"""LLM-written profile and intent texts: backends, prompts and the answer cache."""
