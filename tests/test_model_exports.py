"""Every plugin model imports from ``recbole_irllrec.model``, as RecBole's do from
``recbole.model.general_recommender``, and no import order hits a cycle."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_every_plugin_model_is_exported():
    import recbole_irllrec.model as model
    from recbole_irllrec.utils import PLUGIN_MODELS, get_model

    assert sorted(model.__all__) == sorted(PLUGIN_MODELS)
    for name in PLUGIN_MODELS:
        assert getattr(model, name) is get_model(name)


@pytest.mark.parametrize(
    "statement",
    [
        "from recbole_irllrec.model import BIGCF, DCCF, GraphCF, IRLLRec, RLMRecCon, RLMRecGen",
        "import recbole_irllrec.model.irllrec",
        # the lookup path first (utils -> trainer), then the models it names
        "from recbole_irllrec.utils import get_model; get_model('RLMRecGen'); import recbole_irllrec.model",
    ],
)
def test_imports_in_a_fresh_interpreter(statement):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", statement], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
