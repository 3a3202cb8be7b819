"""Looking at a trained model: per-sparsity-group and cold-start metrics, per-user explanations
and a 2-D picture of its interaction, profile and intent embeddings.

Every function takes what :func:`recbole_irllrec.quick_start.load_data_and_model`
returns; ``python -m recbole_irllrec`` wraps them as commands.
"""
