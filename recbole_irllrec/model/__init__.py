"""The plugin's recommenders, importable as RecBole's are
(``from recbole_irllrec.model import IRLLRec``, like
``from recbole.model.general_recommender import LightGCN``).

:data:`recbole_irllrec.utils.PLUGIN_MODELS` names the same classes by module.
"""
from recbole_irllrec.model.irllrec import IRLLRec
from recbole_irllrec.model.plain import BIGCF, DCCF, GraphCF
from recbole_irllrec.model.rlmrec import RLMRecCon, RLMRecGen

__all__ = ["BIGCF", "DCCF", "GraphCF", "IRLLRec", "RLMRecCon", "RLMRecGen"]
