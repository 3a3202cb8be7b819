"""recbole-irllrec: IRLLRec (SIGIR 2025) as a RecBole plugin."""

__version__ = "0.1.0"
