"""Loading the simulator's cluster description (TOML, stdlib tomllib)."""

import copy
import tomllib
from pathlib import Path

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.toml")


def _read(path: str | Path) -> dict:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def load_config(path: str | Path | None = None) -> dict:
    """The default cluster, with the tables of the TOML file at `path` laid over it.

    Tables (`[server]`, `[cluster]`, ...) are merged key by key; the lists
    `[[nodes]]` and `[[guests]]` replace the default lists entirely.
    """
    config = _read(DEFAULT_CONFIG_PATH)
    if path is not None:
        config = merge_config(config, _read(path))
    return config


def merge_config(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(copy.deepcopy(value))
        else:
            merged[key] = copy.deepcopy(value)
    return merged
