r"""Turn arbitrary metric tags into valid, readable, portable MLflow metric keys.

MLflow accepts metric names matching ``^[/\w.\- :]*$`` that do not change under
``posixpath.normpath`` and are at most 250 characters long; one bad name rejects a
whole ``log_batch`` request. Tags produced by RL libraries break these rules
(skrl: ``"Reward / Total reward (mean)"``), so every tag goes through
:func:`to_mlflow_key` before it reaches MLflow.

The keys produced here are stricter than MLflow requires, for portability: ASCII
letters, digits, ``_``, ``.``, ``-`` and ``/`` only (no ``:``, which Windows
servers reject, no spaces, no non-ASCII letters).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import threading
import unicodedata
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MAX_KEY_LENGTH",
    "KeyCollisionWarning",
    "MetricNameMapper",
    "is_valid_mlflow_key",
    "to_mlflow_key",
]

MAX_KEY_LENGTH = 250
"""MLflow's limit on the length of a metric, param or tag key."""

UNNAMED_KEY = "unnamed"
"""The key of a tag that has no usable character at all (empty, blank, only punctuation)."""

_HASH_HEX_CHARS = 8
_VALID_KEY = re.compile(r"[/\w.\- ]*", re.ASCII)
_INVALID_RUN = re.compile(r"[^A-Za-z0-9_.\-]+")
_INVALID_AT_ENDS = re.compile(r"^[^A-Za-z0-9_.\-]+|[^A-Za-z0-9_.\-]+$")

# Letters that NFKD does not decompose into ASCII but have a common ASCII spelling.
# The micro sign is spelled "u" as in "us" for microseconds.
_TRANSLITERATIONS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "\u0131": "i",  # dotless i
        "μ": "u",
    }
)


class KeyCollisionWarning(UserWarning):
    """Two different tags mapped to one MLflow key; the later tag got a suffixed key."""


def _short_hash(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=_HASH_HEX_CHARS // 2).hexdigest()


def _to_ascii(tag: str) -> tuple[str, bool]:
    """Transliterate ``tag`` to ASCII where possible; report whether letters were lost."""
    decomposed = unicodedata.normalize("NFKD", tag)
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = text.translate(_TRANSLITERATIONS)
    lost = any(not c.isascii() and unicodedata.category(c)[0] in "LN" for c in text)
    return text, lost


def _clean_segment(segment: str) -> str:
    segment = _INVALID_AT_ENDS.sub("", segment)
    return _INVALID_RUN.sub("_", segment)


def _append_suffix(key: str, suffix: str) -> str:
    """Append ``suffix`` to a valid key, cutting the key so the result fits the length limit."""
    return key[: MAX_KEY_LENGTH - len(suffix)] + suffix


def is_valid_mlflow_key(key: str) -> bool:
    """Whether ``key`` is a metric key that MLflow accepts on every platform.

    The rules are MLflow's, made portable: only ASCII letters, digits, ``_``, ``.``,
    ``-``, space and ``/`` (MLflow also allows ``:`` except on Windows, and non-ASCII
    letters); the key must not change under ``posixpath.normpath`` (no ``//``, no
    leading or trailing ``/``, no ``.`` or ``..`` segments, not starting with ``..``),
    must be non-empty and at most :data:`MAX_KEY_LENGTH` characters.

    Args:
        key: The candidate key.

    Returns:
        True when MLflow accepts ``key`` as a metric, param or tag name.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        return False
    if _VALID_KEY.fullmatch(key) is None:
        return False
    normalized = posixpath.normpath(key)
    return normalized == key and normalized != "." and not key.startswith(("..", "/"))


def to_mlflow_key(tag: str) -> str:
    """Turn any tag into a valid, readable MLflow metric key.

    The mapping is deterministic and idempotent (``to_mlflow_key(k) == k`` for every
    key it returns). Per ``/``-separated segment: characters outside
    ``[A-Za-z0-9_.-]`` are dropped at the ends of the segment and every inner run of
    them becomes one ``_``; so ``"Reward / Total reward (mean)"`` becomes
    ``"Reward/Total_reward_mean"`` and ``"Loss / Policy loss (agent_0)"`` becomes
    ``"Loss/Policy_loss_agent_0"``. Empty and dot-only segments are dropped, and leading
    dots are dropped from a key that would start with ``..``.

    Non-ASCII text is transliterated (NFKD without accents: ``"é"`` -> ``"e"``; plus a
    few letters such as ``"ß"`` -> ``"ss"``). If letters or digits remain that have no
    ASCII spelling, the key gets a short hash of the tag as a suffix so that, say, two
    tags in Chinese do not share a key. A tag with no usable character at all maps to
    ``"unnamed"``. Keys longer than :data:`MAX_KEY_LENGTH` are cut and end in a short
    hash of the full key, so distinct long keys stay distinct.

    Args:
        tag: Any metric name, e.g. a skrl tracking tag.

    Returns:
        A key for which :func:`is_valid_mlflow_key` is true.

    Raises:
        TypeError: If ``tag`` is not a string.
    """
    if not isinstance(tag, str):
        raise TypeError(f"metric tag must be a str, got {type(tag).__name__}: {tag!r}")
    text, lost_letters = _to_ascii(tag)
    segments = [s for s in map(_clean_segment, text.split("/")) if s.strip(".")]
    if segments and segments[0].startswith(".."):
        segments[0] = segments[0].lstrip(".")
    key = "/".join(segments) or UNNAMED_KEY
    if lost_letters:
        key = _append_suffix(key, "_" + _short_hash(tag))
    elif len(key) > MAX_KEY_LENGTH:
        key = _append_suffix(key, "_" + _short_hash(key))
    return key


class MetricNameMapper:
    """Map tags to MLflow keys, remembering each mapping and resolving collisions.

    Each tag is converted once (by alias or :func:`to_mlflow_key`) and cached. When a
    tag wants a key that an earlier, different tag already holds (e.g. ``"Loss/x"``
    and ``"Loss / x"``), the later tag gets ``<key>_<hash>`` with a hash of the tag,
    a :class:`KeyCollisionWarning` is issued once, and the collision is recorded in
    :attr:`collisions`. Alias targets are reserved up front, so an alias always gets
    its exact key, whichever tag is seen first.

    Example:
        >>> mapper = MetricNameMapper({"Reward / Total reward (mean)": "reward"})
        >>> mapper.key("Reward / Total reward (mean)")
        'reward'
        >>> mapper.key("Loss / Policy loss")
        'Loss/Policy_loss'
    """

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        """Create a mapper.

        Args:
            aliases: Exact tag -> preferred key. A preferred key that MLflow would
                reject is passed through :func:`to_mlflow_key` first.

        Raises:
            ValueError: If two aliases resolve to the same key.
            TypeError: If an alias tag or key is not a string.
        """
        self._aliases: dict[str, str] = {}
        alias_owner: dict[str, str] = {}
        for tag, wanted in (aliases or {}).items():
            if not isinstance(tag, str) or not isinstance(wanted, str):
                raise TypeError(f"aliases must map str to str, got {tag!r}: {wanted!r}")
            key = wanted if is_valid_mlflow_key(wanted) else to_mlflow_key(wanted)
            if key in alias_owner:
                raise ValueError(
                    f"aliases for {alias_owner[key]!r} and {tag!r} both map to the key {key!r}"
                )
            alias_owner[key] = tag
            self._aliases[tag] = key
        self._owner: dict[str, str] = dict(alias_owner)
        self._cache: dict[str, str] = {}
        self._derived: dict[tuple[str, str], str] = {}
        self._collisions: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def key(self, tag: str) -> str:
        """Return the MLflow key for ``tag``, the same key on every call.

        Args:
            tag: Any metric name.

        Returns:
            A valid MLflow key that no other tag seen by this mapper has.
        """
        cached = self._cache.get(tag)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._cache.get(tag)
            if cached is not None:
                return cached
            wanted = self._aliases.get(tag)
            if wanted is None:
                wanted = to_mlflow_key(tag)
            resolved = self._claim(tag, wanted, tag)
            self._cache[tag] = resolved
            return resolved

    def derived_key(self, tag: str, stat: str) -> str:
        """Return the key of statistic ``stat`` of ``tag``: ``<key>/<stat>``, made valid.

        The same rules as :meth:`key`: a derived key that would be longer than
        :data:`MAX_KEY_LENGTH` keeps its ``/<stat>`` ending and has the tag's key cut and
        hashed instead; one that another tag (or another tag's statistic) already holds
        gets a hashed suffix and a :class:`KeyCollisionWarning`.

        Args:
            tag: Any metric name.
            stat: The statistic's name (``"std"``, ``"p90"``, ...).

        Returns:
            A valid MLflow key that no other tag or statistic seen by this mapper has.
        """
        identity = (tag, stat)
        cached = self._derived.get(identity)
        if cached is not None:
            return cached
        base = self.key(tag)
        with self._lock:
            cached = self._derived.get(identity)
            if cached is not None:
                return cached
            ending = "/" + to_mlflow_key(stat)
            wanted = base + ending
            if len(wanted) > MAX_KEY_LENGTH:
                head = base[: MAX_KEY_LENGTH - len(ending) - _HASH_HEX_CHARS - 1].rstrip("/")
                wanted = f"{head}_{_short_hash(wanted)}{ending}"
            resolved = self._claim(f"{tag}\x00{stat}", wanted, f"{tag} ({stat})")
            self._derived[identity] = resolved
            return resolved

    def _claim(self, owner: str, wanted: str, shown: str) -> str:
        """Reserve ``wanted`` for ``owner`` (lock held), or a free variant of it."""
        resolved = wanted
        if self._owner.get(wanted, owner) != owner:
            resolved = self._free_key(wanted, owner)
            self._collisions.append((shown, wanted, resolved))
            taken_by = self._owner[wanted]
            warnings.warn(
                KeyCollisionWarning(
                    f"metric tags {taken_by.replace(chr(0), ' ')!r} and {shown!r} both map to "
                    f"the MLflow key {wanted!r}; {shown!r} is logged as {resolved!r}"
                ),
                stacklevel=3,
            )
        self._owner[resolved] = owner
        return resolved

    def _free_key(self, wanted: str, tag: str) -> str:
        seed = tag
        while True:
            candidate = _append_suffix(wanted, "_" + _short_hash(seed))
            if candidate not in self._owner:
                return candidate
            seed += "\x00"  # deterministic re-hash in the (adversarial) case of a taken key

    @property
    def mapping(self) -> dict[str, str]:
        """Tag -> key for every tag seen so far (a copy)."""
        return dict(self._cache)

    @property
    def collisions(self) -> list[tuple[str, str, str]]:
        """``(tag, wanted_key, resolved_key)`` for every collision so far (a copy)."""
        return list(self._collisions)

    @property
    def aliases(self) -> dict[str, str]:
        """Tag -> key of the configured aliases, after validation (a copy)."""
        return dict(self._aliases)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(aliases={len(self._aliases)}, tags={len(self._cache)}, "
            f"collisions={len(self._collisions)})"
        )
