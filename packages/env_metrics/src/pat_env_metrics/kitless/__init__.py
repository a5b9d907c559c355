"""Isaac Lab 3.0 tasks without Isaac Sim ("kitless"): install, list and create them.

Isaac Lab 3.0 runs manager-based tasks on the Newton physics backend (MuJoCo-Warp) with
no Omniverse Kit, on a GPU or, through Warp, on the CPU. This subpackage makes that one
call: :func:`make_isaaclab_env` resolves the task (2.x ids such as ``Isaac-Cartpole-v0``
are mapped), applies the device, env count and seed, finds its assets (packaged
stand-ins when NVIDIA's asset server cannot be reached), and fails fast with a one-line
error when Isaac Lab is missing, the task is unknown, or it needs Kit.

Why it lives in pat-env-metrics: this is pat's env-side package. Its Isaac Lab
integration and tests need to create tasks, and so does the CLI; dependencies flow
cli -> env_metrics -> core, so the one place both can import is here.

Nothing here imports torch, gymnasium or Isaac Lab at import time; they are imported when
a task is created. Install the stack with ``pat setup isaaclab`` (or
``python -m pat_env_metrics.kitless``).
"""

from pat_env_metrics.kitless._assets import (
    AssetSource,
    choose_asset_source,
    write_asset_root_mirror,
)
from pat_env_metrics.kitless._create import make_isaaclab_env
from pat_env_metrics.kitless._errors import (
    IsaacLabError,
    IsaacLabNotInstalledError,
    IsaacLabVersionError,
    KitRequiredError,
    OfflineAssetError,
    TaskDependencyError,
    UnknownTaskError,
)
from pat_env_metrics.kitless._install import (
    InstallPlan,
    RequirementStatus,
    install_command,
    install_isaaclab,
    isaaclab_status,
    plan_install,
)
from pat_env_metrics.kitless._isaaclab import (
    TaskIdRenamedWarning,
    isaaclab_available,
    resolve_env_cfg,
    resolve_task_id,
)
from pat_env_metrics.kitless._standins import asset_cache_dir
from pat_env_metrics.kitless._tasks import TaskInfo, list_isaaclab_tasks, load_agent_cfg

__all__ = [
    "AssetSource",
    "InstallPlan",
    "IsaacLabError",
    "IsaacLabNotInstalledError",
    "IsaacLabVersionError",
    "KitRequiredError",
    "OfflineAssetError",
    "RequirementStatus",
    "TaskDependencyError",
    "TaskIdRenamedWarning",
    "TaskInfo",
    "UnknownTaskError",
    "asset_cache_dir",
    "choose_asset_source",
    "install_command",
    "install_isaaclab",
    "isaaclab_available",
    "isaaclab_status",
    "list_isaaclab_tasks",
    "load_agent_cfg",
    "make_isaaclab_env",
    "plan_install",
    "resolve_env_cfg",
    "resolve_task_id",
    "write_asset_root_mirror",
]
