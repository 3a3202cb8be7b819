"""Graph encoders that the plugin's recommenders compose with (config key ``backbone``)."""
from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.backbones.bigcf import BIGCFEncoder
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.backbones.sgl import SGLEncoder
from recbole_irllrec.model.backbones.simgcl import SimGCLEncoder

BACKBONES: dict[str, type[GraphEncoder]] = {
    "LightGCN": LightGCNEncoder,
    "SGL": SGLEncoder,
    "SimGCL": SimGCLEncoder,
    "BIGCF": BIGCFEncoder,
}

__all__ = [
    "BACKBONES", "BIGCFEncoder", "EncoderOutput", "GraphEncoder", "LightGCNEncoder", "SGLEncoder", "SimGCLEncoder",
]
