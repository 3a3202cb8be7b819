"""The config as a run logs it: what is in force, not every key RecBole holds.

RecBole's dump (``Config.__str__``) shows ``use_gpu = True`` and ``gpu_id = 0``
on a CPU run, ``eval_args``' random split when fixed split files
(``benchmark_filename``) replace it, and every backbone's keys whatever the
backbone. Here the log shows the device in use, the split files, and only the
keys the model reads; the Config itself keeps every key (checkpoints record it,
``--show_config`` lists it).
"""
from __future__ import annotations

import os

from recbole.utils import set_color

from recbole_irllrec.model.alignment import TEXT_KEYS

BACKBONE_FILES = "properties/backbone/"
# what RecBole's __str__ leaves out of "Other"
_NOT_LISTED = {"model", "dataset", "config_files"}


def unread_keys(config) -> dict[str, str]:
    """The config's keys the model does nothing with, each with the reason: a
    plugin model's own ``unread_keys``; for RecBole's models, the plugin's
    backbone and text-term keys (they read neither)."""
    final = config.final_config_dict
    model_unread = getattr(config.model_class, "unread_keys", None)
    if model_unread is not None:
        return model_unread(config, list(final))
    unread = {}
    for key in final:
        layers = config.sources.layers(key)
        if key in TEXT_KEYS or (layers and all(layer.startswith(BACKBONE_FILES) for layer in layers)):
            unread[key] = f"{config['model']} is RecBole's and reads no plugin backbone or text key"
    return unread


def in_force(config) -> dict[str, list[tuple[str, object]]]:
    """For each key whose line misleads, the lines shown in its place."""
    final = config.final_config_dict
    device = str(final["device"])
    lines = {
        # the device in use, where RecBole lists what was asked for
        "gpu_id": [("device", device)] + ([("gpu_id", final["gpu_id"])] if device != "cpu" else []),
        "use_gpu": [],
        "device": [],
    }
    parts = final["benchmark_filename"]
    if parts is not None:
        # RecBole's build() takes the files' rows as they are: eval_args' split, order and group_by are unused
        files = [os.path.join(final["data_path"], f"{config['dataset']}.{part}.inter") for part in parts]
        lines["eval_args"] = [("eval_args", {"mode": final["eval_args"]["mode"]}), ("split files", files)]
    return lines


def config_summary(config) -> str:
    """RecBole's config dump, by category, with the device and split in force
    and without the keys the model does not read (named at the end)."""
    final = config.final_config_dict
    unread = unread_keys(config)
    replaced = in_force(config)
    listed = {k for keys in config.parameters.values() for k in keys} | _NOT_LISTED
    categories = {**config.parameters, "Other": [k for k in final if k not in listed]}
    text = "\n"
    for name, keys in categories.items():
        pairs = []
        for key in (k for k in final if k in keys and k not in unread):
            pairs += replaced.get(key, [(key, final[key])])
        text += set_color(f"{name} Hyper Parameters:\n", "pink")
        text += "\n".join((set_color("{}", "cyan") + " =" + set_color(" {}", "yellow")).format(k, v) for k, v in pairs)
        text += "\n\n"
    if unread:
        text += (f"Not shown: {len(unread)} keys {config['model']} does not read here "
                 f"({', '.join(sorted(unread))}); --show_config lists every key.\n")
    return text
