"""Where an Isaac Lab task's assets come from: their servers, or packaged stand-ins.

Isaac Lab task configs name their asset files by URL: on NVIDIA's asset server (unless
``ISAACSIM_ASSET_ROOT`` names a local copy) and, for some tasks, in Newton's asset
repository. Without network access, loading such a file fails only after about a minute.
This module decides before anything is loaded:

- ``ISAACSIM_ASSET_ROOT`` is set: the config is left as it is (no probe);
- ``PAT_OFFLINE_ASSETS=1`` (or ``0``): every server is taken as unreachable (or reachable)
  without a probe;
- otherwise one HEAD request per server, with a short deadline, tells whether it answers.

Files on an unreachable server are replaced by packaged stand-ins where pat has one
(:mod:`pat_env_metrics.kitless._standins`), and otherwise fail at once with
:class:`~pat_env_metrics.kitless.OfflineAssetError`. :func:`write_asset_root_mirror` writes
the stand-ins as an asset root, for programs that read only ``ISAACSIM_ASSET_ROOT`` (Isaac
Lab's own scripts).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pat_env_metrics.kitless._standins import PACKAGED_ASSETS, asset_cache_dir, newton_version

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

__all__ = [
    "AssetSource",
    "choose_asset_source",
    "probe_url",
    "remote_asset_paths",
    "server_of",
    "substitute_assets",
    "write_asset_root_mirror",
]

OFFLINE_ENV = "PAT_OFFLINE_ASSETS"
ASSET_ROOT_ENV = "ISAACSIM_ASSET_ROOT"
PROBE_TIMEOUT_S = 1.5
_STANDIN_BASE = "Isaac/IsaacLab"
"""Where stand-ins are built below an asset root (``ISAACLAB_NUCLEUS_DIR``)."""
_FETCHED_KEYS = frozenset({"usd_path", "asset_path"})
"""Config fields whose file a spawner downloads; other remote strings are left alone."""


@dataclass(frozen=True)
class AssetSource:
    """Where a task's remote asset files will come from.

    Attributes:
        kind: ``"remote"`` (their servers), ``"packaged"`` (stand-ins for the files on the
            servers in ``unreachable``) or ``"user"`` (``ISAACSIM_ASSET_ROOT``: left alone).
        reason: Why, for the log line.
        unreachable: The servers (``scheme://host``) taken as unreachable.
    """

    kind: Literal["remote", "packaged", "user"]
    reason: str
    unreachable: frozenset[str] = frozenset()


def probe_url(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Return whether ``url`` answers a HEAD request within ``timeout`` seconds.

    Name resolution is not bounded by socket timeouts, so the request runs in a daemon
    thread and the answer is whatever it found by the deadline.
    """
    result: list[bool] = []

    def head() -> None:
        try:
            request = urllib.request.Request(url, method="HEAD")  # http(s) only
            with urllib.request.urlopen(request, timeout=timeout):
                result.append(True)
        except urllib.error.HTTPError:
            result.append(True)  # the server answered
        except (OSError, ValueError):
            result.append(False)

    thread = threading.Thread(target=head, name="pat-asset-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


_PROBED: dict[str, bool] = {}
"""Answers per server, so a process probes each server once."""


def server_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def choose_asset_source(
    urls: Iterable[str], *, environ: Mapping[str, str] | None = None
) -> AssetSource:
    """Decide, without waiting on an unreachable server, where remote asset files come from.

    Args:
        urls: The remote files the task needs (see :func:`remote_asset_paths`).
        environ: Environment variables to read (defaults to ``os.environ``).

    Returns:
        The decision, with the reason and the servers taken as unreachable.
    """
    env = os.environ if environ is None else environ
    first: dict[str, str] = {}
    for url in urls:
        first.setdefault(server_of(url), url)
    if env.get(ASSET_ROOT_ENV):
        return AssetSource("user", f"{ASSET_ROOT_ENV}={env[ASSET_ROOT_ENV]}")
    offline = env.get(OFFLINE_ENV, "").strip().lower()
    if offline in {"1", "true", "yes", "on"}:
        return AssetSource("packaged", f"{OFFLINE_ENV}={env[OFFLINE_ENV]}", frozenset(first))
    if offline in {"0", "false", "no", "off"}:
        return AssetSource("remote", f"{OFFLINE_ENV}={env[OFFLINE_ENV]}")
    if not first:
        return AssetSource("remote", "the task needs no remote file")
    for server, url in first.items():
        if server not in _PROBED:
            _PROBED[server] = probe_url(url)
    unreachable = frozenset(server for server in first if not _PROBED[server])
    if not unreachable:
        return AssetSource("remote", f"{', '.join(first)} answered")
    return AssetSource(
        "packaged",
        f"{', '.join(sorted(unreachable))} did not answer within {PROBE_TIMEOUT_S:g} s "
        f"({OFFLINE_ENV}=1 skips this check)",
        unreachable,
    )


def _walk(cfg: Any) -> Iterator[tuple[Any, str | int, Any]]:
    """Yield ``(parent, key, value)`` for every attribute, item and element in a config tree."""
    seen: set[int] = set()
    stack: list[Any] = [cfg]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        items: Any
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        elif hasattr(node, "__dict__") and not isinstance(node, type):
            items = list(vars(node).items())
        else:
            continue
        for key, value in items:
            yield node, key, value
            if value is not None and not isinstance(value, (str, bytes, int, float, bool)):
                stack.append(value)


def remote_asset_paths(cfg: Any) -> list[tuple[Any, str, str]]:
    """Return ``(parent, key, url)`` of every file the config's spawners would download."""
    return [
        (parent, key, value)
        for parent, key, value in _walk(cfg)
        if isinstance(key, str)
        and key in _FETCHED_KEYS
        and isinstance(value, str)
        and "://" in value
    ]


def substitute_assets(
    cfg: Any, root: str, source: AssetSource, cache: Path | None = None
) -> tuple[list[str], list[str]]:
    """Point the config's files on unreachable servers at their packaged stand-ins.

    Args:
        cfg: The task's env config (changed in place).
        root: Isaac Lab's asset root (``NUCLEUS_ASSET_ROOT_DIR``): stand-ins are known by
            their path below it.
        source: The decision of :func:`choose_asset_source`.
        cache: Where to build the stand-ins; :func:`asset_cache_dir` by default.

    Returns:
        ``(replaced, missing)``: descriptions of the replacements made, and the URLs on
        unreachable servers that have no stand-in.
    """
    cache = cache or asset_cache_dir() / f"newton-{newton_version()}"
    prefix = root.rstrip("/") + "/"
    replaced: dict[str, str] = {}
    missing: list[str] = []
    for parent, key, url in remote_asset_paths(cfg):
        if server_of(url) not in source.unreachable:
            continue
        asset = PACKAGED_ASSETS.get(url[len(prefix) :]) if url.startswith(prefix) else None
        if asset is None:
            missing.append(url)
            continue
        local = str(asset.build(cache))
        if isinstance(parent, dict):
            parent[key] = local
        else:
            setattr(parent, key, local)
        replaced[asset.relpath.rsplit("/", 1)[-1]] = asset.description
    return [f"{name} -> {what}" for name, what in replaced.items()], missing


def write_asset_root_mirror(directory: Path) -> Path:
    """Write every packaged stand-in at its path below an asset root, and return that root.

    Pointing ``ISAACSIM_ASSET_ROOT`` at the returned directory makes any program that
    resolves Isaac Lab's asset paths (Isaac Lab's own scripts, pat) load the stand-ins from
    the same files, offline.

    Args:
        directory: The asset root to write (created if needed).

    Returns:
        ``directory``: ``<directory>/Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd``
        and the other stand-ins are there.
    """
    for asset in PACKAGED_ASSETS.values():
        built = asset.build(directory / _STANDIN_BASE)
        if built != directory / asset.relpath:  # a stand-in that builds where it is not looked for
            raise RuntimeError(f"stand-in for {asset.relpath} was written to {built}")
    return directory
