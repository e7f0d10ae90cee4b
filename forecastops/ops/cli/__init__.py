"""`forecastops`: the one command-line entry point (simulate a retailer, query the lake,
operate the model registry: promote, rollback, history, status, forecasts, reproduce; write
the incident report; queue retrains; list, read and act on alerts; run experiments).

Every bad flag or setting stops with a message that names it and says what to do; nothing is
written before the input has been checked.
"""

# Each command group registers its commands on `app` when imported, in this (help) order.
from forecastops.ops.cli import (  # noqa: F401
    alerts,
    data,
    deployment,
    experiments,
    registry,
    repair,
    report,
    retrain,
)
from forecastops.ops.cli.shared import app

__all__ = ["app"]
