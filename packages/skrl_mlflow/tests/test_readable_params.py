"""Params and config artifacts a person can read; the experiment kind MLflow's UI opens."""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import json

import numpy as np
import torch
import yaml
from mlflow import MlflowClient
from skrl.resources.preprocessors.torch import RunningStandardScaler
from skrl.resources.schedulers.torch import KLAdaptiveLR

from pat_skrl_mlflow import (
    EXPERIMENT_KIND_TAG,
    TRAINING_EXPERIMENT_KIND,
    flatten_params,
    log_params,
    log_yaml,
    readable,
    start_run,
)


def shaped(rewards: float) -> float:
    return rewards * 0.1


class Opaque:
    """An object without a repr of its own (``<...Opaque object at 0x...>``)."""


class Mode(enum.Enum):
    SAME_STEP = "SameStep"


@dataclasses.dataclass
class SceneCfg:
    num_envs: int = 64
    spacing: float = 4.0


@dataclasses.dataclass
class EnvCfg:
    scene: SceneCfg = dataclasses.field(default_factory=SceneCfg)
    decimation: int = 2
    observation_noise: type = KLAdaptiveLR


SKRL_CONFIG = {
    "learning_rate_scheduler": KLAdaptiveLR,
    "learning_rate_schedulers": (KLAdaptiveLR, KLAdaptiveLR),
    "learning_rate_scheduler_kwargs": ({"kl_threshold": 0.008}, {"kl_threshold": 0.008}),
    "state_preprocessor": [RunningStandardScaler, None],
    "rewards_shaper": shaped,
    "shaper_partial": functools.partial(shaped),
    "optimizer": (torch.optim.Adam, {"lr": 1e-3, "kind": "adam"}),
    "activation": torch.nn.functional.elu,
    "mixed_precision": False,
    "single": (KLAdaptiveLR,),
    "opaque": Opaque(),
    "experiment": {"directory": "runs/x", "wandb_kwargs": {}},
}


def test_flatten_params_names_classes_and_functions_also_inside_tuples_and_lists() -> None:
    params = flatten_params(SKRL_CONFIG)
    scheduler = "skrl.resources.schedulers.torch.KLAdaptiveLR"  # the package's export
    assert params["learning_rate_scheduler"] == scheduler
    assert params["learning_rate_schedulers"] == f"({scheduler}, {scheduler})"
    assert params["learning_rate_scheduler_kwargs"] == (
        "({'kl_threshold': 0.008}, {'kl_threshold': 0.008})"
    )
    assert params["state_preprocessor"] == (
        "[skrl.resources.preprocessors.torch.RunningStandardScaler, None]"
    )
    assert params["rewards_shaper"] == f"{__name__}.shaped"
    assert params["shaper_partial"] == f"functools.partial({__name__}.shaped)"
    assert params["optimizer"] == "(torch.optim.Adam, {'lr': 0.001, 'kind': 'adam'})"
    assert params["activation"] == "torch.nn.functional.elu"
    assert params["single"] == f"({scheduler},)"
    assert params["opaque"] == f"{__name__}.Opaque"
    assert params["mixed_precision"] == "False"
    assert params["experiment/directory"] == "runs/x"
    assert params["experiment/wandb_kwargs"] == "{}"
    for key, value in params.items():
        assert "<class" not in value, (key, value)
        assert "<function" not in value, (key, value)
        assert " at 0x" not in value, (key, value)


def test_readable_config_is_yaml_safe_and_reads_back() -> None:
    document = {
        **SKRL_CONFIG,
        "gamma": np.float64(0.99),
        "rollouts": np.int64(16),
        "mode": Mode.SAME_STEP,
        "env": EnvCfg(),
        "ids": collections.OrderedDict(a=(1, 2)),
    }
    text = yaml.safe_dump(readable(document), sort_keys=False)  # safe_dump refuses objects
    back = yaml.safe_load(text)
    assert back["learning_rate_schedulers"] == ["skrl.resources.schedulers.torch.KLAdaptiveLR"] * 2
    assert back["optimizer"] == ["torch.optim.Adam", {"lr": 0.001, "kind": "adam"}]
    assert back["gamma"] == 0.99
    assert back["rollouts"] == 16
    assert back["mode"] == "Mode.SAME_STEP"
    assert back["env"] == {
        "scene": {"num_envs": 64, "spacing": 4.0},
        "decimation": 2,
        "observation_noise": "skrl.resources.schedulers.torch.KLAdaptiveLR",
    }
    assert back["ids"] == {"a": [1, 2]}
    json.dumps(readable(document))  # JSON-safe as well


def test_log_params_and_log_yaml_store_readable_values(store: str) -> None:
    target = start_run(tracking_uri=store)
    assert log_params(target, {"seed": 3, "scheduler": (KLAdaptiveLR,), "seed_none": None}) == 3
    assert log_yaml(target, {"agent": {"rollouts": 16, "scheduler": KLAdaptiveLR}}, "params/a.yaml")
    target.end("FINISHED")
    client = MlflowClient(tracking_uri=store)
    params = client.get_run(target.run_id).data.params
    assert params == {
        "seed": "3",
        "scheduler": "(skrl.resources.schedulers.torch.KLAdaptiveLR,)",
        "seed_none": "None",
    }
    path = client.download_artifacts(target.run_id, "params/a.yaml")
    with open(path, encoding="utf-8") as file:
        assert yaml.safe_load(file) == {
            "agent": {"rollouts": 16, "scheduler": "skrl.resources.schedulers.torch.KLAdaptiveLR"}
        }


def test_start_run_tags_the_experiments_it_creates_and_an_untagged_default(store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    start_run(tracking_uri=store, experiment_name="made-by-pat").end("FINISHED")
    made = client.get_experiment_by_name("made-by-pat")
    assert made.tags[EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND

    mine = client.create_experiment("made-by-the-user")
    start_run(tracking_uri=store, experiment_name="made-by-the-user").end("FINISHED")
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(mine).tags  # not pat's to decide

    target = start_run(tracking_uri=store, experiment_name="Default")
    target.end("FINISHED")
    assert client.get_run(target.run_id).info.experiment_id == "0"
    assert client.get_experiment("0").tags[EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND


def test_start_run_keeps_the_kind_a_user_gave_the_default_experiment(store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    client.set_experiment_tag("0", EXPERIMENT_KIND_TAG, "genai_development")
    start_run(tracking_uri=store).end("FINISHED")
    assert client.get_experiment("0").tags[EXPERIMENT_KIND_TAG] == "genai_development"
