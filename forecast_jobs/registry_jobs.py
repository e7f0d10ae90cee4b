"""Promote and roll back from the Dagster launchpad: op jobs over the `mlflow_registry` resource.

The same rules as `forecastops promote` / `forecastops rollback`
(`forecastops.pipeline.operations`); the
launchpad's run config is the confirmation, e.g.

    ops:
      promote_model:
        config: {version: 7, force: false, reason: "v7 fixes the holiday under-forecast"}

Every move is recorded with actor `dagster:<run_id>`. A refusal fails the run with a
`dagster.Failure` whose description names the config field and the fix; the registry is left
exactly as it was.
"""

# No `from __future__ import annotations`: Dagster reads the op's annotations at definition
# time. The core (pandas, MLflow) loads inside the bodies.
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from forecastops.domain.runs import KIND_TAG, PROMOTE_MODEL_JOB, ROLLBACK_MODEL_JOB
from resources.mlflow_registry import MlflowRegistry

if TYPE_CHECKING:
    from forecastops.pipeline.operations import AliasPlan
    from forecastops.stores.registry import ModelRegistry

PROMOTE_OP = "promote_model"
ROLLBACK_OP = "rollback_model"


class PromoteConfig(dg.Config):
    """Launchpad config of `promote_model_job`."""

    version: int = Field(description="The model version to make champion, e.g. 7.")
    force: bool = Field(
        default=False,
        description="Promote even when the version has no backtest or the promotion gate did "
        "not pass it; the overridden rules are recorded in the alias history.",
    )
    reason: str = Field(
        default="manual promotion (promote_model_job)",
        description="Why, in a sentence; recorded in the alias history.",
    )


class RollbackConfig(dg.Config):
    """Launchpad config of `rollback_model_job`."""

    reason: str = Field(
        default="manual rollback (rollback_model_job)",
        description="Why, in a sentence; recorded in the alias history.",
    )


@contextmanager
def _failures(op_name: str) -> Iterator[None]:
    """Turn the core's refusals and registry failures into a `dagster.Failure` that names the
    config field at fault (`ops.<op>.config.<field>`)."""
    from forecastops.pipeline.operations import OperationRefused
    from forecastops.stores.registry import RegistryError

    try:
        yield
    except OperationRefused as error:
        where = f"Config field ops.{op_name}.config.{error.field}: " if error.field else ""
        raise dg.Failure(description=f"{where}{error}", allow_retries=False) from None
    except RegistryError as error:
        raise dg.Failure(description=f"Registry error: {error}") from error


def _move(
    context: dg.OpExecutionContext,
    registry: "ModelRegistry",
    make_plan: "Callable[[], AliasPlan]",
    reason: str,
) -> None:
    """Plan, log and apply an alias move as `dagster:<run_id>`; the op's output metadata says
    what moved. Call inside `_failures`."""
    from forecastops.pipeline.operations import apply_plan

    plan = make_plan()
    context.log.info(plan.summary)
    move = apply_plan(registry, plan, actor=f"dagster:{context.run_id}", reason=reason)
    context.add_output_metadata(
        {
            "alias": plan.alias,
            "from_version": plan.from_version or "none",
            "to_version": plan.to_version,
            "moved": move is not None,
            "summary": plan.summary,
            "reason": move.reason if move else "already there; nothing recorded",
        }
    )


@dg.op(
    name=PROMOTE_OP,
    description="Make the configured version the champion (same rules as forecastops promote).",
)
def promote_model(
    context: dg.OpExecutionContext, config: PromoteConfig, mlflow_registry: MlflowRegistry
) -> None:
    from forecastops.pipeline.operations import check_reason, plan_promotion

    with _failures(PROMOTE_OP):
        reason = check_reason(config.reason, "")
        registry = mlflow_registry.registry
        _move(
            context,
            registry,
            lambda: plan_promotion(registry, str(config.version), force=config.force),
            reason,
        )


@dg.op(
    name=ROLLBACK_OP,
    description="Move the champion back to the previous champion of the alias history.",
)
def rollback_model(
    context: dg.OpExecutionContext, config: RollbackConfig, mlflow_registry: MlflowRegistry
) -> None:
    from forecastops.pipeline.operations import check_reason, plan_rollback

    with _failures(ROLLBACK_OP):
        reason = check_reason(config.reason, "")
        registry = mlflow_registry.registry
        _move(context, registry, lambda: plan_rollback(registry), reason)


@dg.job(
    name=PROMOTE_MODEL_JOB,
    description="Promote a model version to champion from the launchpad: config version, force, "
    "reason. Refuses an unknown version, and one without a passed backtest unless force.",
    tags={KIND_TAG: "registry"},
)
def promote_model_job() -> None:
    promote_model()


@dg.job(
    name=ROLLBACK_MODEL_JOB,
    description="Roll the champion back to the previous champion of the alias history: config "
    "reason. Refuses when there is no previous champion.",
    tags={KIND_TAG: "registry"},
)
def rollback_model_job() -> None:
    rollback_model()
