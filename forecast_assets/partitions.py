"""The daily partitions every asset shares, declared once from the settings."""

from __future__ import annotations

from datetime import date

import dagster as dg

from forecastops.stores.settings import load_settings

_settings = load_settings()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.start_date.isoformat(), timezone=_settings.timezone
)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days a run covers: one for a single-partition run, all of them for a range run."""
    return [date.fromisoformat(key) for key in context.partition_keys]


def trailing_window(upstream: dg.AssetsDefinition, days: int) -> dg.AssetDep:
    """A dependency on the `days` partitions of `upstream` up to and including a partition."""
    return dg.AssetDep(
        upstream,
        partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-days, end_offset=0),
    )
