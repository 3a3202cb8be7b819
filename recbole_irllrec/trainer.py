"""What RecBole's trainers must do differently here: checkpoints, and the
validation result for callbacks.

The mixins are mixed into whichever RecBole trainer a model uses (see
:func:`recbole_irllrec.utils.get_trainer`); training and evaluation stay
RecBole's own.
"""
from __future__ import annotations

import torch
from recbole.utils import set_color

from recbole_irllrec.atomic_io import atomic_open, atomic_write_new
from recbole_irllrec.checkpoint import config_record, load_checkpoint


class SafeCheckpointMixin:
    """Writes checkpoints without pickled objects and reads them with
    ``weights_only=True``, scoped to this trainer (torch's global default is
    left alone).

    Each save goes to a hidden temporary file that is renamed into place, so a
    kill mid-save leaves the previous best whole. A run's first save never
    overwrites another file: two runs started in the same second (RecBole
    names checkpoints ``<model>-<time>.pth``) get ``...-2.pth``; later saves
    of the run replace its own file."""

    _owns_checkpoint = False  # whether saved_model_file is this run's own file yet

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        explicit = "saved_model_file" in kwargs
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": config_record(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }
        # the default protocol: weights_only loading rejects protocol 4 opcodes
        if explicit or self._owns_checkpoint:
            with atomic_open(saved_model_file, "wb") as handle:
                torch.save(state, handle)
        else:
            saved_model_file = str(atomic_write_new(saved_model_file, lambda handle: torch.save(state, handle)))
            self.saved_model_file, self._owns_checkpoint = saved_model_file, True
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {saved_model_file}")

    def resume_checkpoint(self, resume_file):
        resume_file = str(resume_file)
        self.saved_model_file, self._owns_checkpoint = resume_file, True  # training goes on in that file
        checkpoint = load_checkpoint(resume_file, map_location=self.device)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            self.logger.warning("The checkpoint was written by another model; loading its state may fail.")
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    @torch.no_grad()
    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = load_checkpoint(checkpoint_file, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, model_file=model_file, show_progress=show_progress)


class ValidResultMixin:
    """Keeps the latest validation result in ``last_valid_result``: RecBole's
    ``fit(callback_fn=...)`` passes only the score, a Tune report wants all metrics."""

    last_valid_result: dict | None = None

    def _valid_epoch(self, *args, **kwargs):
        # *args: the decision-tree trainers' signature differs from the others'
        valid_score, valid_result = super()._valid_epoch(*args, **kwargs)
        self.last_valid_result = valid_result
        return valid_score, valid_result
