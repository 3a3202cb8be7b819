"""Offline preparation of datasets for the IRLLRec RecBole plugin.

The package turns a raw RecBole dataset into a prepared folder that the
model reads as is: fixed train/valid/test interaction files, readable
profile/intent texts for every user and item, and their sentence embeddings
in RecBole atomic files (``.useremb`` / ``.itememb``).

Texts are written only from the training split, so validation and test
interactions cannot leak into the side information.

Entry points: :func:`dataset_prep.movielens.prepare_ml100k` and the command
line ``python -m dataset_prep ml-100k --data-root dataset``.
"""
