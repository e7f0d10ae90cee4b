"""The MLflow pyfunc flavour of a `LightGBMForecaster`, so any MLflow client can score it.

`mlflow.pyfunc.load_model("models:/demand_forecaster@champion").predict(features)` takes a
features table and returns the point forecasts:

- input: a `pandas.DataFrame` with (at least) the columns `feature_columns(spec)` of the model's
  `FeatureSpec`, one row per (series, day) to score, as `forecastops.domain.features` computes them
  (`build_training_frame`); other columns (`date`, `units_sold`) are ignored.
  The series key columns (`store_id`, `product_id`) may be pandas categoricals or strings: they
  are matched to the categories the booster was trained on, and an unseen key scores as missing.
- output: a float64 `numpy` array, one forecast per input row in input order: expected units
  sold that day (>= 0), exactly what the booster predicts for those rows.

This is one-step scoring of precomputed features. The recursive multi-day forecast (which
recomputes the lag features from its own forecasts) is `LightGBMForecaster.predict`; get the
forecaster itself with `ModelRegistry.load_forecaster`.

This module imports MLflow at import time (the class must subclass `PythonModel` for MLflow to
pickle it by reference), so import it only where MLflow is loaded anyway: inside the registry
functions, and in MLflow's model loader. Loading needs the `forecastops` package importable
(installed in the serving environment); the logged requirements pin the libraries it calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from forecastops.domain.features import categorical_columns, feature_columns
from forecastops.domain.forecasters import LightGBMForecaster

MODEL_DIR_ARTIFACT = "forecaster"
"""The pyfunc artifact holding the folder `LightGBMForecaster.save` wrote (booster + spec)."""


class DemandForecastPyfunc(PythonModel):
    """Scores a features table with the LightGBM booster stored in the model's artifacts.

    `booster_file` is the booster's file name inside the `MODEL_DIR_ARTIFACT` folder (its spec
    JSON sits beside it, see `forecastops.domain.forecasters.spec_path`).
    """

    def __init__(self, booster_file: str) -> None:
        self.booster_file = booster_file
        self.forecaster: LightGBMForecaster | None = None

    def load_context(self, context: Any) -> None:
        """Load the booster and its feature spec from the downloaded artifacts."""
        model_dir = Path(context.artifacts[MODEL_DIR_ARTIFACT])
        self.forecaster = LightGBMForecaster.load(model_dir / self.booster_file)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        """Point forecasts (units sold, float64 >= 0), one per row of `model_input`."""
        if self.forecaster is None or self.forecaster.booster is None:
            raise RuntimeError(
                "DemandForecastPyfunc has no booster loaded; load it with "
                "mlflow.pyfunc.load_model(model_uri)."
            )
        spec = self.forecaster.spec
        columns = feature_columns(spec)
        missing = [column for column in columns if column not in model_input.columns]
        if missing:
            raise ValueError(
                f"The features table is missing the columns {missing}; the model needs "
                f"{columns} (see forecastops.domain.features.feature_columns)."
            )
        features = model_input[columns]
        to_category = {
            column: "category"
            for column in categorical_columns(spec)
            if not isinstance(features[column].dtype, pd.CategoricalDtype)
        }
        if to_category:
            features = features.astype(to_category)
        predicted = np.asarray(self.forecaster.booster.predict(features), dtype=np.float64)
        return np.maximum(predicted, 0.0)


def model_signature(forecaster: LightGBMForecaster) -> Any:
    """The MLflow signature of the pyfunc model, read off the booster (no data needed).

    Numeric features are declared `double` (every feature dtype converts to it exactly, so the
    predictions do not change). The series keys are declared `any`: MLflow's schema has no
    categorical type, and `string` would reject the pandas categoricals the feature code makes
    (MLflow passes `any` columns through as Python objects; `predict` makes them categoricals
    again). The output is a float64 vector.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema, TensorSpec
    from mlflow.types.schema import AnyType

    categorical = set(categorical_columns(forecaster.spec))
    inputs = Schema(
        [
            ColSpec(AnyType() if column in categorical else DataType.double, column)
            for column in feature_columns(forecaster.spec)
        ]
    )
    outputs = Schema([TensorSpec(np.dtype(np.float64), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)
