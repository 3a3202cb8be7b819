"""Graph encoders that the plugin's recommenders compose with (config key ``backbone``)."""
from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.backbones.bigcf import BIGCFEncoder
from recbole_irllrec.model.backbones.dccf import DCCFEncoder
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.backbones.sgl import SGLEncoder
from recbole_irllrec.model.backbones.simgcl import SimGCLEncoder

BACKBONES: dict[str, type[GraphEncoder]] = {
    "LightGCN": LightGCNEncoder,
    "SGL": SGLEncoder,
    "SimGCL": SimGCLEncoder,
    "DCCF": DCCFEncoder,
    "BIGCF": BIGCFEncoder,
}

__all__ = [
    "BACKBONES", "BIGCFEncoder", "DCCFEncoder", "EncoderOutput", "GraphEncoder", "LightGCNEncoder",
    "SGLEncoder", "SimGCLEncoder",
]
