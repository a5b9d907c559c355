"""Map Isaac Lab 2.x task ids (``Isaac-Cartpole-v0``) to the 3.0 ids (``Isaac-Cartpole``).

Isaac Lab 3.0 dropped the ``-vN`` suffixes, wrote multi-word robot names in CamelCase
(``Anymal-D`` -> ``AnymalD``), moved contributed tasks to an ``IsaacContrib-`` prefix and
renamed a few task families (its ``isaaclab_tasks`` changelog lists them). The mapping
is a rule (compare ids with case, dashes, the version suffix and the ``Contrib`` prefix
ignored) plus a table for the renamed families. Pure functions: no Isaac Lab import.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = ["RENAMED_TASKS", "close_task_ids", "map_task_id"]

_SHADOW_OPENAI = "IsaacContrib-Reorient-Cube-Shadow-OpenAI-"
RENAMED_TASKS: Mapping[str, str] = {
    "Isaac-Repose-Cube-Allegro": "Isaac-Reorient-Cube-Allegro",
    "Isaac-Repose-Cube-Allegro-Direct": "Isaac-Reorient-Cube-Allegro-Direct",
    "Isaac-Repose-Cube-Shadow-Direct": "Isaac-Reorient-Cube-Shadow-Direct",
    "Isaac-Repose-Cube-Shadow-OpenAI-FF-Direct": _SHADOW_OPENAI + "FF-Direct",
    "Isaac-Repose-Cube-Shadow-OpenAI-LSTM-Direct": _SHADOW_OPENAI + "LSTM-Direct",
    "Isaac-Repose-Cube-Shadow-Vision-Direct": "Isaac-Reorient-Cube-Shadow-Camera-Direct",
    "Isaac-Shadow-Hand-Over-Direct": "Isaac-Shadow-Handover-Direct",
    "Isaac-Franka-Cabinet-Direct": "Isaac-Open-Drawer-Franka-Direct",
    "Isaac-Dexsuite-Kuka-Allegro-Reorient": "Isaac-Reorient-KukaAllegro",
    "Isaac-Dexsuite-Kuka-Allegro-Lift": "Isaac-Lift-KukaAllegro",
    "Isaac-Cartpole-Manager": "Isaac-Cartpole",
    "Isaac-Cartpole-Camera-Manager": "Isaac-Cartpole-Camera",
}
"""2.x ids (version suffix removed) whose 3.0 name the rule cannot derive."""

_VERSION = re.compile(r"-v\d+$", re.IGNORECASE)


def _key(task: str) -> str:
    """Compare ids ignoring case, punctuation, the version suffix and the Contrib prefix."""
    folded = re.sub(r"[^a-z0-9]", "", _VERSION.sub("", task).lower())
    return re.sub(r"^isaaccontrib", "isaac", folded)


def map_task_id(task: str, registered: Collection[str]) -> str | None:
    """Return the registered id ``task`` names, or ``None`` if it names none.

    Args:
        task: A 3.0 id, or a 2.x id such as ``Isaac-Cartpole-v0``.
        registered: The registered task ids.

    Returns:
        ``task`` itself when registered; else the one id it maps to; else ``None`` (also
        when the rule finds several candidates).
    """
    if task in registered:
        return task
    bare = _VERSION.sub("", task)
    renamed = RENAMED_TASKS.get(bare)
    if renamed is not None and renamed in registered:
        return renamed
    key = _key(renamed or bare)
    matches = [candidate for candidate in registered if _key(candidate) == key]
    return matches[0] if len(matches) == 1 else None


def close_task_ids(task: str, registered: Collection[str], n: int = 3) -> list[str]:
    """Return up to ``n`` registered ids that look like ``task`` (for error messages)."""
    by_key: dict[str, str] = {}
    for candidate in sorted(registered):
        by_key.setdefault(_key(candidate), candidate)
    keys = difflib.get_close_matches(_key(task), list(by_key), n=n, cutoff=0.6)
    found = [by_key[key] for key in keys]
    for candidate in difflib.get_close_matches(task, sorted(registered), n=n, cutoff=0.6):
        if candidate not in found:
            found.append(candidate)
    return found[:n]
