"""Graph encoders that the plugin's recommenders compose with (config key ``backbone``)."""
from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.backbones.dccf import DCCFEncoder
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder

BACKBONES: dict[str, type[GraphEncoder]] = {"LightGCN": LightGCNEncoder, "DCCF": DCCFEncoder}

__all__ = ["BACKBONES", "DCCFEncoder", "EncoderOutput", "GraphEncoder", "LightGCNEncoder"]
