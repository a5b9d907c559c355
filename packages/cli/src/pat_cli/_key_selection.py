"""``--key``: choose metric keys with pat's one pattern language, and say why a pattern missed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pat_cli._errors import DOMAIN_ERROR, fail

if TYPE_CHECKING:
    from collections.abc import Sequence


def select_keys(
    keys: Sequence[str], patterns: Sequence[str], *, owner: str, several: bool = False
) -> list[str]:
    """The ``keys`` that ``--key`` patterns choose (all of them without patterns), in order.

    ``owner`` names whose keys they are in messages: ``"run 3f2a..."``, or ``"these runs"``
    with ``several``.
    A run without metrics, or a pattern that matches no key, fails with exit 1 and a hint:
    the key it matches ignoring case, close keys, or a few of the keys there are.
    """
    if not keys:
        fail(
            f"none of {owner} has metrics." if several else f"{owner} has no metrics.",
            hint="runs that crashed before their first log window have none.",
            code=DOMAIN_ERROR,
        )
    if not patterns:
        return list(keys)
    from pat_core import select_names  # not for every command: pat-core brings numpy

    try:
        chosen, unmatched = select_names(keys, patterns)
    except ValueError as exc:
        fail(f"--key: {exc}.", hint="a key, a glob such as 'episode_*', or re:<regex>.")
    for miss in unmatched:
        has = "have" if several else "has"
        hint = miss.hint() or f"{owner} {has} {len(keys)} keys, e.g. {', '.join(keys[:4])}."
        fail(
            f"--key {miss.pattern!r} matches no metric key of {owner}.",
            hint=hint,
            code=DOMAIN_ERROR,
        )
    return chosen
