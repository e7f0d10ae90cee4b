"""The executor every job runs its steps with, chosen by FORECASTOPS_EXECUTOR."""

from __future__ import annotations

from typing import Any

import dagster as dg

from forecastops.stores.settings import Settings, variable


class BrokerUnreachable(dg.DagsterError):
    """The run's Celery broker did not answer; the message names it (masked)."""


def _checked_celery_executor() -> dg.ExecutorDefinition:
    """dagster-celery's `celery` executor that asks the broker first: without the check a run
    whose broker is down fails (after kombu's retries) with "Connection refused" and no word of
    which broker, or hangs on an AMQP default it was never meant to use."""
    from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor

    from forecastops.stores.broker import broker_problem

    class CheckedCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context: Any, execution_plan: Any) -> Any:
            problem = broker_problem(self.broker)
            if problem is not None:
                raise BrokerUnreachable(
                    f"{problem}. Start it, or point {variable('celery_broker_url')} at a "
                    "running broker (forecastops doctor checks it)."
                )
            return super().execute(plan_context, execution_plan)

    @dg.executor(
        name="celery",
        config_schema=CELERY_CONFIG,
        requirements=dg.multiple_process_executor_requirements(),
    )
    def checked_celery_executor(init_context: dg.InitExecutorContext) -> CeleryExecutor:
        from dagster._core.execution.retries import RetryMode

        config = init_context.executor_config  # as dagster_celery.celery_executor reads it
        return CheckedCeleryExecutor(
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        )

    return checked_celery_executor


def build_executor(settings: Settings) -> dg.ExecutorDefinition | None:
    """The executor of `settings.executor`; None keeps Dagster's default (multiprocess, or
    in-process when a run's config asks for it), which is what the jobs used before the setting.

    With celery the broker (also the result backend) is configured as `{"env": <variable>}`:
    the job snapshot and the run config Dagster stores hold the variable's name, and the run
    process reads the URL from its own environment (the workers from theirs)."""
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "multiprocess":
        return None
    broker = {"env": variable("celery_broker_url")}
    return _checked_celery_executor().configured({"broker": broker, "backend": broker})
