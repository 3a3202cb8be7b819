"""One Ray Tune trial: the plugin's ``objective_function``, reporting every validation."""
from __future__ import annotations

import os
import sys
from typing import Sequence

import ray
from ray.air import session

from recbole_irllrec.quick_start import objective_function
from recbole_irllrec.quiet import silence_known_warnings

VALID_SCORE = "valid_score"
TEST_PREFIX = "test_"


def device_settings(gpu_ids: Sequence) -> dict:
    """Config keys that keep the GPUs Ray gave this trial (none: the CPU).

    RecBole's Config writes ``gpu_id`` into ``CUDA_VISIBLE_DEVICES``; with its
    default ``'0'`` every trial would land on the first GPU of the node.
    """
    gpu_id = ",".join(str(i) for i in gpu_ids)
    return {"gpu_id": gpu_id, "use_gpu": bool(gpu_id)}


def run_trial(params: dict, base: dict, config_files: list[str] | None = None) -> None:
    """Train with ``base`` (model, dataset, fixed keys) updated by the sampled ``params``.

    Each validation reports its metrics, so a scheduler can stop the trial;
    the last report adds the test result of the best checkpoint.
    """
    # RecBole's Config reads --key=value from sys.argv: keep Ray's worker flags out
    sys.argv = sys.argv[:1]
    silence_known_warnings()  # a trial is an entry point: its warnings reach the search's output
    config_dict = {
        **base,
        **params,
        **device_settings(ray.get_gpu_ids()),
        # trials finishing in the same second would share RecBole's checkpoint name
        "checkpoint_dir": os.path.join(session.get_trial_dir(), "saved"),
    }

    def on_valid(epoch: int, valid_score: float, valid_result: dict) -> None:
        session.report({**valid_result, VALID_SCORE: valid_score, "epoch": epoch})

    outcome = objective_function(config_dict, config_files, saved=True, on_valid=on_valid)
    test = {TEST_PREFIX + key: value for key, value in outcome["test_result"].items()}
    session.report({**outcome["best_valid_result"], VALID_SCORE: outcome["best_valid_score"], **test})
