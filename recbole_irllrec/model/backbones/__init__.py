"""Graph encoders that the plugin's recommenders compose with (config key ``backbone``)."""
from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.backbones.bigcf import BIGCFEncoder
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder

BACKBONES: dict[str, type[GraphEncoder]] = {"LightGCN": LightGCNEncoder, "BIGCF": BIGCFEncoder}

__all__ = ["BACKBONES", "BIGCFEncoder", "EncoderOutput", "GraphEncoder", "LightGCNEncoder"]
