"""Graph encoders that the plugin's recommenders compose with (config key ``backbone``)."""
from __future__ import annotations

from typing import Iterable

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


def unread_backbone_keys(backbone: str, keys: Iterable[str]) -> dict[str, str]:
    """Of ``keys``, those that do nothing with ``backbone``, each with the
    reason: another backbone's prefixed keys and the keys ``backbone`` declares
    in ``UNREAD_KEYS``."""
    encoder = BACKBONES[backbone]
    unread = {}
    for key in keys:
        for name, other in BACKBONES.items():
            if other is not encoder and other.KEY_PREFIX and key.startswith(other.KEY_PREFIX):
                unread[key] = f"it is a {name} key and the backbone is {backbone}"
        if key in encoder.UNREAD_KEYS:
            unread[key] = encoder.UNREAD_KEYS[key]
    return unread


__all__ = [
    "BACKBONES", "BIGCFEncoder", "DCCFEncoder", "EncoderOutput", "GraphEncoder", "LightGCNEncoder",
    "SGLEncoder", "SimGCLEncoder", "unread_backbone_keys",
]
