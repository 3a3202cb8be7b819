"""Graph encoders that IRLLRec's intent module composes with."""
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder

BACKBONES = {"LightGCN": LightGCNEncoder}

__all__ = ["BACKBONES", "LightGCNEncoder"]
