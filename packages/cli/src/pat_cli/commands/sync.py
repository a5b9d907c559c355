"""``pat sync``: deliver metric points that waited in a spool while the store was down."""

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pat_cli._errors import DOMAIN_ERROR, fail
from pat_cli._options import JsonOutput

SyncTrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow store to deliver to. Default: the store the spool was written for "
        "(MLFLOW_TRACKING_URI is used only when that URI had credentials, which a spool "
        "never stores, and names the same store).",
        show_default=False,
    ),
]


def sync(
    spool: Annotated[
        Path,
        typer.Argument(
            help="A spool directory (pat_spool), or a directory to search for spools "
            "(e.g. skrl's runs/). Default: the current directory.",
            show_default=False,
        ),
    ] = Path(),
    tracking_uri: SyncTrackingUri = None,
    mark_dead: Annotated[
        bool,
        typer.Option(
            "--mark-dead",
            help="End as KILLED a spool's run that is still RUNNING although the process "
            "that trained it is gone (killed with kill -9, out of memory); without it such a "
            "run is only reported.",
        ),
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """Deliver the metric points a training spooled while MLflow was unreachable.

    Safe to run again: points already delivered are never sent twice.

    Example: pat sync runs/ --tracking-uri http://127.0.0.1:5000
    """
    import json

    from pat_cli._console import console
    from pat_skrl_mlflow import find_spools, mask_uri

    if not spool.exists():
        fail(f"invalid value for SPOOL: {str(spool)!r}; expected an existing directory.")
    spools = find_spools(spool)
    if not spools:
        fail(
            f"no pat spool under {spool}: nothing to deliver.",
            hint="spools are pat_spool/ directories beside a run's outputs.",
            code=DOMAIN_ERROR,
        )
    # with --json nothing but the JSON goes to stdout (MLflow prints "View run ..." there)
    quiet = contextlib.redirect_stdout(sys.stderr) if json_output else contextlib.nullcontext()
    with quiet:
        results = _sync_all(spools, tracking_uri, mark_dead)
    if json_output:
        rows = [
            {
                "spool": str(r.spool),
                "run_id": r.run_id,
                "created_run": r.created_run,
                "delivered": r.delivered,
                "rejected": r.rejected,
                "waiting": r.waiting,
                "ended": r.ended,
                "left_running": r.left_running,
            }
            for r in results
        ]
        typer.echo(json.dumps(rows, indent=1))
        return
    for r in results:
        what = f"delivered {r.delivered:,} points" if r.delivered else "nothing waiting"
        created = " (run created now)" if r.created_run else ""
        extra = f", {r.rejected:,} rejected by the store" if r.rejected else ""
        ended = f"; the run ended as {r.ended}" if r.ended else ""
        console.print(
            f"{r.spool}: {what} to run {r.run_id}{created}{extra}{ended}"
            + (f"; {r.waiting:,} still waiting" if r.waiting else ""),
            highlight=False,
            soft_wrap=True,
        )
        if r.left_running:
            console.print(
                f"run {r.run_id} was left RUNNING: {r.left_running}; "
                "`pat sync --mark-dead` ends it as KILLED.",
                highlight=False,
                soft_wrap=True,
            )
    if tracking_uri:
        console.print(f"store: {mask_uri(tracking_uri)}", highlight=False)


def _sync_all(spools: list[Path], tracking_uri: str | None, mark_dead: bool) -> list[Any]:
    from pat_skrl_mlflow import RunNotInStore, SinkUnavailable, SpoolBusy, sync_spool

    results = []
    for directory in spools:
        try:
            results.append(sync_spool(directory, tracking_uri, mark_dead=mark_dead))
        except SinkUnavailable as error:
            fail(
                f"cannot reach the MLflow store ({error}); the points stay in {directory}.",
                hint="start the tracking server (or fix --tracking-uri) and run `pat sync` again.",
                code=DOMAIN_ERROR,
            )
        except (RunNotInStore, SpoolBusy, ValueError) as error:
            fail(str(error), code=DOMAIN_ERROR)
    return results
