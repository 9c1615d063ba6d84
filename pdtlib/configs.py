"""Dataclass configs from plain dicts (checkpoints, bundle.json, run records)."""

from __future__ import annotations

from dataclasses import fields


def from_dict(cls, data: dict):
    """`cls(**data)` keeping only the keys that are fields of the dataclass `cls`.

    Files written by other versions may carry keys this version dropped (or lack new ones,
    which then take their defaults); the dataclass's own checks still run on what is kept.
    """
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in dict(data).items() if k in names})
