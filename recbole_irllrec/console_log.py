"""RecBole's console log without its log file, for code that only reads a checkpoint.

RecBole's ``init_logger`` always opens ``./log/<model>/<model>-<dataset>-<time>-<hash>.log``;
reloading a checkpoint (``load_data_and_model``, the analysis commands) would leave
one behind each time, empty at the commands' level. Training keeps RecBole's
logger and its file, the record of a run.
"""
from __future__ import annotations

import logging

import colorlog
from recbole.utils.logger import log_colors_config

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def init_console_logger(config) -> None:
    """RecBole's console handler, format and level (``config["state"]``), and no file.
    Like RecBole's, it changes nothing when the root logger is already set up."""
    state = config["state"]
    level = LEVELS.get(state.lower(), logging.INFO) if isinstance(state, str) else logging.INFO
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(
        colorlog.ColoredFormatter(
            "%(log_color)s%(asctime)-15s %(levelname)s  %(message)s", "%d %b %H:%M", log_colors=log_colors_config
        )
    )
    logging.basicConfig(level=level, handlers=[handler])
