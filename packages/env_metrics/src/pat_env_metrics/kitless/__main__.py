"""``python -m pat_env_metrics.kitless``: install Isaac Lab without the pat CLI.

The same installer as ``pat setup isaaclab``: ``--dry-run`` prints the commands,
``--check`` reports what is installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from pat_env_metrics.kitless._install import install_isaaclab, isaaclab_status


def main(argv: list[str] | None = None) -> int:
    """Run the installer; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pat_env_metrics.kitless", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--check", action="store_true", help="report what is installed")
    args = parser.parse_args(argv)
    if args.check:
        statuses = isaaclab_status()
        for status in statuses:
            mark = "ok" if status.ok else "MISSING" if status.installed is None else "WRONG VERSION"
            print(f"{mark:13} {status.requirement:32} {status.installed or '-'}")
        return 0 if all(status.ok for status in statuses) else 1
    try:
        install_isaaclab(dry_run=args.dry_run)
    except subprocess.CalledProcessError as exc:
        print(f"error: install command failed with exit status {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
