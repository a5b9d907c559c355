"""``pat dry-run filter``: which metrics a filter would log and drop, and which patterns miss."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pat_cli._console import console
from pat_cli._errors import DOMAIN_ERROR, bad_option, fail
from pat_cli._options import Exclude, Experiment, JsonOutput, TrackingUri

if TYPE_CHECKING:
    from pat_skrl_mlflow import MetricName


def filter_(
    patterns: Annotated[
        list[str] | None,
        typer.Argument(
            help="Include patterns: exact names, globs (Loss/*) or re:<regex>, matched against "
            "skrl tags and MLflow keys. None: everything is included.",
            show_default=False,
        ),
    ] = None,
    *,
    exclude: Exclude = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="Take the names from this MLflow run's metric keys (the default source: the "
            "latest run of the current experiment, as in `pat inspect metrics`).",
            show_default=False,
        ),
    ] = None,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            help="Take the names from this file, one per line ('#' starts a comment line).",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="Take the names from a short live rollout of this task.",
            show_default=False,
        ),
    ] = None,
    algorithm: Annotated[
        str | None,
        typer.Option("--algorithm", help="Algorithm of the --task rollout.", show_default=False),
    ] = None,
    timesteps: Annotated[
        int | None,
        typer.Option(
            "--timesteps",
            help="Length of the --task rollout. Default: one agent update and first episode ends.",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any pattern matches nothing.")
    ] = False,
    json_output: JsonOutput = False,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
) -> None:
    """Show which metric names a filter logs and drops, and the patterns that match nothing.

    Names come from a run (the latest one when no source is given), a file of keys or a
    short live rollout. Keys of a run or file are matched with the skrl tag pat logs them
    for, as in training: 'Loss / *' selects policy_loss and value_loss.

    Example: pat dry-run filter 'Loss / *' --exclude '*_min' --task CartPole-v1
    """
    from pat_cli._train_plan import filter_patterns, positive
    from pat_skrl_mlflow import explain_filter

    given = [o for o, v in (("--run", run), ("--keys-file", keys_file), ("--task", task)) if v]
    if len(given) > 1:
        fail(
            f"expected one source of names: --run RUN_ID, --keys-file FILE or --task TASK "
            f"(got {', '.join(given)})."
        )
    positive("--timesteps", timesteps)
    include, excluded = filter_patterns(patterns, None, exclude, include_name="PATTERN")
    if keys_file is not None:
        names, source = _from_file(keys_file), f"file {keys_file}"
    elif task is not None:
        names, source = _from_rollout(task, algorithm, timesteps)
    else:
        names, source = _from_run(run, tracking_uri, experiment)
    decisions, unmatched = explain_filter(names, include, excluded)

    if json_output:
        payload = {
            "source": source,
            "include": list(include) if include is not None else None,
            "exclude": list(excluded),
            "logged": sum(d.logged for d in decisions),
            "dropped": sum(not d.logged for d in decisions),
            "names": [
                {
                    "key": d.name.key,
                    "tag": d.name.tag,
                    "logged": d.logged,
                    "matched_by": list(d.matched_by),
                    "excluded_by": list(d.excluded_by),
                }
                for d in decisions
            ],
            "unmatched": [
                {
                    "pattern": r.pattern,
                    "kind": r.kind,
                    "problem": r.explain(),
                    "suggestions": list(r.suggestions),
                    "case_matches": list(r.case_matches),
                    "skrl_matches": [{"tag": t, "key": k} for t, k in r.skrl_matches],
                }
                for r in unmatched
            ],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        from pat_cli.commands._filter_tables import decisions_table, unmatched_table

        console.print(decisions_table(decisions, source))
        if unmatched:
            console.print(unmatched_table(unmatched))
        else:
            console.print("Every pattern matches at least one name.")
    if strict and unmatched:
        raise typer.Exit(DOMAIN_ERROR)


def _from_run(
    run_id: str | None, tracking_uri: str | None, experiment: str | None
) -> "tuple[list[MetricName], str]":
    from pat_cli._mlflow_store import open_run, resolve_tracking_uri
    from pat_skrl_mlflow import named_keys

    uri = resolve_tracking_uri(tracking_uri)
    _, info = open_run(uri, run_id, experiment)  # a sqlite store is read without MLflow
    if not info.metric_keys:
        fail(f"run {info.run_id} has no metrics to filter.", code=DOMAIN_ERROR)
    latest = "" if run_id else " (the latest; choose another with --run)"
    return named_keys(info.metric_keys), f"run {info.run_id}{latest}"


def _from_file(path: Path) -> "list[MetricName]":
    from pat_core import read_pattern_file
    from pat_skrl_mlflow import named_keys

    try:
        lines = read_pattern_file(path)  # the same lines: stripped, blank and '#' ones skipped
    except (OSError, UnicodeDecodeError) as error:
        bad_option("--keys-file", str(path), f"a readable text file, one name per line ({error})")
    names = list(dict.fromkeys(lines))
    if not names:
        bad_option("--keys-file", str(path), "a file with at least one metric name")
    return named_keys(names)


def _from_rollout(
    task: str, algorithm: str | None, timesteps: int | None
) -> "tuple[list[MetricName], str]":
    from pat_cli._rollout import default_timesteps, run_rollout
    from pat_cli._setup import prepare
    from pat_skrl_mlflow import MetricName

    ready = prepare(task, algorithm, None, None, None)
    steps = timesteps or default_timesteps(ready.cfg)
    records = run_rollout(ready, timesteps=steps, seed=None)
    source = f"a {steps}-timestep rollout of {ready.choice.id} ({ready.algorithm.upper()})"
    return [MetricName(r.key, r.tag) for r in records], source
