from recbole_irllrec.data.checked import CheckedDataset
from recbole_irllrec.data.dataset import TextFeatureDataset
from recbole_irllrec.data.text_features import AtomicFileError, TextFeatureError

__all__ = ["AtomicFileError", "CheckedDataset", "TextFeatureDataset", "TextFeatureError"]
