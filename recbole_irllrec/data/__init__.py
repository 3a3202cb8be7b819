from recbole_irllrec.data.dataset import TextFeatureDataset
from recbole_irllrec.data.text_features import TextFeatureError

__all__ = ["TextFeatureDataset", "TextFeatureError"]
