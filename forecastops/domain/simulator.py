"""Deterministic retail sales simulator: the source of the landing files.

Inputs: a `SimulationSpec` (inclusive date range, number of stores and products, seed, an optional
`DriftScenario` and an optional plan of corrupted days).

Outputs:
- `simulate_sales` returns the clean long-format history, one row per active (store, product, day).
- `write_landing_files` writes the *landing contract*: one file per day, named
  `sales_YYYY-MM-DD.csv` or `sales_YYYY-MM-DD.parquet`, with exactly the columns
  `date, store_id, product_id, units_sold, price, on_promotion`.

Units: `units_sold` is the number of items one store sold of one product on one day (integer
>= 0); `price` is the shelf price actually charged that day, in currency units per item, after
any promotion discount, rounded to cents; `on_promotion` marks promoted days.

Demand model. Expected units per store, product and day are a product of factors:

    base level (product, log-uniform over three orders of magnitude) x store size x series noise
    x weekly profile (weekend uplift, size varies by product)
    x yearly cycle (smooth cosine, amplitude and peak vary by product)
    x trend (per-series exponential growth or decline)
    x price effect ((price / reference price) ** -elasticity; list prices change permanently now
      and then, promotions discount them)
    x promotion lift (display and advertising, on top of the discount)
    x holiday uplift (US holidays and the two days before them)
    x drift (level shift from the drift start, if a DriftScenario is given)

Units are drawn from a negative binomial around that expectation, so low-volume products are
intermittent (many zero days). A share of products launch or are discontinued mid-history; a series
has rows only on the days its product is active.

Determinism: every random component draws from its own stream derived from the seed, and the
(day, series) grids are drawn day by day, so the same spec gives the same frame and the same file
bytes, and extending `end` (or adding a drift from some day on) leaves the earlier days unchanged.
Everything is vectorised over the (day, series) grid; the only per-day loop writes the files.
"""

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

CorruptionKind = Literal[
    "missing_column", "bad_dtype", "negative_units", "duplicates", "empty_file"
]
CORRUPTION_KINDS: tuple[CorruptionKind, ...] = get_args(CorruptionKind)

FileFormat = Literal["csv", "parquet"]
FILE_FORMATS: tuple[FileFormat, ...] = get_args(FileFormat)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RealismParams:
    """Parameters of the demand model. Ranges are (low, high) of a uniform draw."""

    base_demand_range: tuple[float, float] = (0.05, 100.0)  # units/day at a size-1 store, log-unif
    store_size_sigma: float = 0.4  # lognormal sigma of the store size multiplier
    series_level_sigma: float = 0.25  # lognormal sigma of the per-series level multiplier
    weekend_uplift_range: tuple[float, float] = (0.05, 0.6)  # per product, uplift on the peak day
    weekday_shape: tuple[float, ...] = (0.0, 0.0, 0.0, 0.1, 0.5, 1.0, 0.8)  # Mon..Sun, x uplift
    yearly_amplitude_range: tuple[float, float] = (0.1, 0.35)  # relative swing of the annual cycle
    yearly_peak_day: float = 200.0  # day of year of the annual peak (mid July)
    yearly_peak_jitter_days: float = 30.0  # sd of the per-product peak day
    trend_sigma_per_year: float = 0.15  # sd of the per-series log-demand slope, per year
    base_price_median: float = 4.0  # currency units per item
    base_price_sigma: float = 0.8  # lognormal sigma of base prices across products
    store_price_spread: float = 0.05  # store price multiplier uniform in [1 - x, 1 + x]
    price_change_rate: float = 1 / 120  # per product-day probability of a permanent price change
    price_change_range: tuple[float, float] = (0.05, 0.2)  # size of one change, in log price
    elasticity_range: tuple[float, float] = (1.0, 2.5)  # per product, d log units / d log price
    promo_rate: float = 0.05  # per series-day probability of a promotion
    promo_discount_range: tuple[float, float] = (0.1, 0.3)  # per product, share off the price
    promo_lift: float = 1.3  # demand multiplier of a promotion on top of the price effect
    holiday_country: str = "US"
    holiday_uplift: tuple[float, ...] = (0.5, 0.25, 0.1)  # extra demand 0, 1, 2 days before
    launch_share: float = 0.2  # share of products launched mid-history
    launch_window_days: tuple[int, int] = (14, 300)  # first sale, days after the spec start
    discontinue_share: float = 0.15  # share of products discontinued mid-history
    discontinue_window_days: tuple[int, int] = (90, 600)  # first day without sales, after start
    nb_shape: float = 4.0  # negative binomial shape: variance = mu + mu**2 / nb_shape
    min_price: float = 0.01  # currency units; prices are rounded to cents


REALISM = RealismParams()

DAYS_PER_YEAR = 365.25
DAYS_PER_WEEK = 7
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
PRICE_DECIMALS = 2

CORRUPTED_ROW_SHARE = 0.05  # share of a day's rows hit by a row-level corruption (at least one)
BAD_UNITS_TOKEN = "n/a"
LANDING_FILE_MODE = 0o644  # rw-r--r--: readable by the ingestion process whatever its user
NEGATIVE_UNITS_RANGE = (1, 10)  # magnitude of injected negative units, inclusive


class _Stream(IntEnum):
    """Independent random streams, so one component's draws never shift another's."""

    PRODUCTS = 0
    STORES = 1
    SERIES = 2
    LIFECYCLE = 3
    PRICES = 4
    PROMOTIONS = 5
    DEMAND = 6
    CORRUPTION = 7


@dataclass(frozen=True)
class DriftScenario:
    """A change in the data-generating process from `start` (inclusive) on.

    `demand_factor` multiplies expected demand (level shift); `price_factor` multiplies prices
    (a feature distribution shift: demand responds through the usual price elasticity);
    `promo_rate`, if set, replaces the per series-day promotion probability.
    """

    start: date
    demand_factor: float = 1.6
    price_factor: float = 1.0
    promo_rate: float | None = None

    def __post_init__(self) -> None:
        if self.demand_factor <= 0:
            raise ValueError(
                f"DriftScenario.demand_factor must be > 0, got {self.demand_factor}; "
                "use 1.0 for no level shift."
            )
        if self.price_factor <= 0:
            raise ValueError(
                f"DriftScenario.price_factor must be > 0, got {self.price_factor}; "
                "use 1.0 for unchanged prices."
            )
        if self.promo_rate is not None and not 0.0 <= self.promo_rate <= 1.0:
            raise ValueError(
                f"DriftScenario.promo_rate must be a probability in [0, 1], got "
                f"{self.promo_rate}; use None to keep the default promotion rate."
            )


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: days `start`..`end` (inclusive) for `stores` x `products` series."""

    start: date
    end: date
    stores: int
    products: int
    seed: int
    drift: DriftScenario | None = None
    corrupt_days: Mapping[date, CorruptionKind] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or isinstance(self.end, datetime):
            raise ValueError("SimulationSpec.start and .end must be datetime.date, not datetime.")
        if self.end < self.start:
            raise ValueError(
                f"SimulationSpec.end ({self.end}) is before start ({self.start}); "
                "set end on or after start."
            )
        if self.stores < 1:
            raise ValueError(f"SimulationSpec.stores must be >= 1, got {self.stores}.")
        if self.products < 1:
            raise ValueError(f"SimulationSpec.products must be >= 1, got {self.products}.")
        if self.seed < 0:
            raise ValueError(f"SimulationSpec.seed must be >= 0, got {self.seed}.")
        if self.drift is not None and not self.start <= self.drift.start <= self.end:
            raise ValueError(
                f"SimulationSpec.drift.start ({self.drift.start}) is outside "
                f"{self.start}..{self.end}; move it into the simulated range."
            )
        for day, kind in self.corrupt_days.items():
            if not self.start <= day <= self.end:
                raise ValueError(
                    f"SimulationSpec.corrupt_days has {day}, outside {self.start}..{self.end}; "
                    "corrupt only days inside the simulated range."
                )
            if kind not in CORRUPTION_KINDS:
                raise ValueError(
                    f"SimulationSpec.corrupt_days[{day}] = {kind!r} is not a corruption kind; "
                    f"use one of {', '.join(CORRUPTION_KINDS)}."
                )
        object.__setattr__(self, "corrupt_days", MappingProxyType(dict(self.corrupt_days)))

    @property
    def n_days(self) -> int:
        """Number of simulated days, `end` included."""
        return (self.end - self.start).days + 1


def _rng(seed: int, stream: _Stream, *key: int) -> np.random.Generator:
    """The generator of one named random stream (optionally sub-keyed, e.g. by day)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream), *key)))


def _holiday_effect(
    spec: SimulationSpec, days: npt.NDArray[np.datetime64], params: RealismParams
) -> FloatArray:
    """Demand multiplier per day (>= 1): uplift on holidays and the days leading up to them."""
    import holidays

    # The next year is included so late-December days see the New Year run-up.
    calendar = holidays.country_holidays(
        params.holiday_country, years=range(spec.start.year, spec.end.year + 2)
    )
    holiday_days = np.array(sorted(calendar), dtype="datetime64[D]")
    effect = np.ones(len(days))
    for days_before, uplift in enumerate(params.holiday_uplift):
        near = np.isin(days + np.timedelta64(days_before, "D"), holiday_days)
        effect = np.where(near, np.maximum(effect, 1.0 + uplift), effect)
    return effect


def _active_products(n_days: int, n_products: int, seed: int, params: RealismParams) -> BoolArray:
    """(day, product) mask of products on sale: some launch late, some are discontinued.

    Launch and discontinuation days are counted from the spec start, so they do not depend on
    `end`. Launched and discontinued products are disjoint, and at least one product is always
    on sale (the shares stay below one together).
    """
    rng = _rng(seed, _Stream.LIFECYCLE)
    order = rng.permutation(n_products)
    launch_draw = rng.integers(*params.launch_window_days, size=n_products, endpoint=True)
    stop_draw = rng.integers(*params.discontinue_window_days, size=n_products, endpoint=True)
    n_launched = int(params.launch_share * n_products)
    n_stopped = int(params.discontinue_share * n_products)
    launched = order[:n_launched]
    stopped = order[n_launched : n_launched + n_stopped]
    first_day = np.zeros(n_products, dtype=np.int64)
    first_day[launched] = launch_draw[launched]
    end_day = np.full(n_products, np.iinfo(np.int64).max)
    end_day[stopped] = stop_draw[stopped]
    day = np.arange(n_days)[:, None]
    return (day >= first_day[None, :]) & (day < end_day[None, :])


def _list_prices(
    n_days: int, base_price: FloatArray, seed: int, params: RealismParams
) -> FloatArray:
    """(day, product) list price: piecewise constant, with occasional permanent changes.

    Both uniforms of a (day, product) cell are drawn together, day by day, so the prices of the
    first days do not depend on how many days are simulated.
    """
    draws = _rng(seed, _Stream.PRICES).random((n_days, len(base_price), 2))
    changes = draws[..., 0] < params.price_change_rate
    changes[0] = False
    signed = 2.0 * draws[..., 1] - 1.0  # uniform in [-1, 1): direction and size of a change
    low, high = params.price_change_range
    log_steps = np.where(changes, np.sign(signed) * (low + (high - low) * np.abs(signed)), 0.0)
    return np.exp(np.log(base_price)[None, :] + np.cumsum(log_steps, axis=0))


@dataclass(frozen=True)
class _Grid:
    """Simulated (day, series) grids; series index = store * products + product."""

    days: npt.NDArray[np.datetime64]
    units: IntArray
    price: FloatArray
    promo: BoolArray
    active: BoolArray


def _simulate_grid(spec: SimulationSpec, params: RealismParams) -> _Grid:
    """Draw every component on the full (day, series) grid (inactive cells are dropped later)."""
    n_days, n_products, n_stores = spec.n_days, spec.products, spec.stores
    days = np.datetime64(spec.start, "D") + np.arange(n_days)
    elapsed = np.arange(n_days, dtype=np.float64)
    weekday = (days.astype(np.int64) + EPOCH_WEEKDAY) % DAYS_PER_WEEK
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1

    products = _rng(spec.seed, _Stream.PRODUCTS)
    low_level, high_level = (math.log(bound) for bound in params.base_demand_range)
    base_level = np.exp(products.uniform(low_level, high_level, size=n_products))
    weekend_uplift = products.uniform(*params.weekend_uplift_range, size=n_products)
    yearly_amplitude = products.uniform(*params.yearly_amplitude_range, size=n_products)
    yearly_peak = products.normal(
        params.yearly_peak_day, params.yearly_peak_jitter_days, n_products
    )
    base_price = params.base_price_median * np.exp(
        products.normal(0.0, params.base_price_sigma, n_products)
    )
    elasticity = products.uniform(*params.elasticity_range, size=n_products)
    discount = products.uniform(*params.promo_discount_range, size=n_products)

    stores = _rng(spec.seed, _Stream.STORES)
    store_size = np.exp(stores.normal(0.0, params.store_size_sigma, n_stores))
    spread = params.store_price_spread
    store_price = stores.uniform(1.0 - spread, 1.0 + spread, n_stores)

    series = _rng(spec.seed, _Stream.SERIES)
    n_series = n_stores * n_products
    series_level = np.exp(series.normal(0.0, params.series_level_sigma, n_series))
    trend_slope = series.normal(0.0, params.trend_sigma_per_year, n_series)

    # Day-level drift: neutral before the drift start.
    drift_demand = np.ones(n_days)
    drift_price = np.ones(n_days)
    promo_rate = np.full(n_days, params.promo_rate)
    if spec.drift is not None:
        since = (spec.drift.start - spec.start).days
        drift_demand[since:] = spec.drift.demand_factor
        drift_price[since:] = spec.drift.price_factor
        if spec.drift.promo_rate is not None:
            promo_rate[since:] = spec.drift.promo_rate

    # (day, product) factors, then tiled to (day, series) with series = store * P + product.
    weekly = 1.0 + weekend_uplift[None, :] * np.asarray(params.weekday_shape)[weekday][:, None]
    phase = 2 * np.pi * (day_of_year[:, None] - yearly_peak[None, :]) / DAYS_PER_YEAR
    yearly = 1.0 + yearly_amplitude[None, :] * np.cos(phase)
    list_price = _list_prices(n_days, base_price, spec.seed, params)
    active = _active_products(n_days, n_products, spec.seed, params)

    def per_series(by_product: FloatArray) -> FloatArray:
        return np.tile(by_product, (1, n_stores))

    store_of_series = np.repeat(np.arange(n_stores), n_products)
    product_of_series = np.tile(np.arange(n_products), n_stores)

    promo = _rng(spec.seed, _Stream.PROMOTIONS).random((n_days, n_series)) < promo_rate[:, None]
    reference_price = base_price[product_of_series] * store_price[store_of_series]
    promo_multiplier = np.where(promo, 1.0 - discount[product_of_series][None, :], 1.0)
    price = np.maximum(
        np.round(
            per_series(list_price)
            * store_price[store_of_series][None, :]
            * promo_multiplier
            * drift_price[:, None],
            PRICE_DECIMALS,
        ),
        params.min_price,
    )
    price_effect = (price / reference_price[None, :]) ** -elasticity[product_of_series][None, :]
    trend = np.exp(trend_slope[None, :] * elapsed[:, None] / DAYS_PER_YEAR)
    level = base_level[product_of_series] * store_size[store_of_series] * series_level

    expected = (
        level[None, :]
        * per_series(weekly * yearly)
        * trend
        * price_effect
        * np.where(promo, params.promo_lift, 1.0)
        * (_holiday_effect(spec, days, params) * drift_demand)[:, None]
    )
    shape = params.nb_shape
    units = _rng(spec.seed, _Stream.DEMAND).negative_binomial(shape, shape / (shape + expected))
    return _Grid(
        days=days,
        units=units.astype(np.int64),
        price=price,
        promo=promo,
        active=np.tile(active, (1, n_stores)),
    )


def _labels(prefix: str, count: int, width: int) -> npt.NDArray[np.object_]:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def simulate_sales(spec: SimulationSpec) -> pd.DataFrame:
    """Simulate the clean sales history described by `spec` (no corruption applied).

    Returns one row per active (store, product, day), sorted by date, store_id, product_id, with
    columns date (datetime64[ns], midnight), store_id (str, "S001"), product_id (str, "P0001"),
    units_sold (int64, items per day, >= 0), price (float64, currency units per item, > 0, after
    any promotion discount) and on_promotion (bool). A drift scenario in `spec` is applied.
    """
    grid = _simulate_grid(spec, REALISM)
    n_series = spec.stores * spec.products
    cell = np.flatnonzero(grid.active.ravel())
    day_index, series_index = np.divmod(cell, n_series)
    store_index, product_index = np.divmod(series_index, spec.products)
    return pd.DataFrame(
        {
            "date": grid.days[day_index].astype("datetime64[ns]"),
            "store_id": _labels("S", spec.stores, width=3)[store_index],
            "product_id": _labels("P", spec.products, width=4)[product_index],
            "units_sold": grid.units.ravel()[cell],
            "price": grid.price.ravel()[cell],
            "on_promotion": grid.promo.ravel()[cell],
        }
    )


def _pick_rows(n_rows: int, rng: np.random.Generator) -> IntArray:
    """Sorted positions of the rows a row-level corruption hits (at least one if any rows)."""
    count = min(n_rows, max(1, round(CORRUPTED_ROW_SHARE * n_rows)))
    return np.sort(rng.choice(n_rows, size=count, replace=False))


def corrupt_day(
    frame: pd.DataFrame, kind: CorruptionKind, rng: np.random.Generator
) -> pd.DataFrame:
    """Return a corrupted copy of one day's landing frame (the input is not modified).

    - missing_column: drops the `price` column.
    - bad_dtype: `units_sold` becomes text, with "n/a" on some rows.
    - negative_units: some `units_sold` become negative integers.
    - duplicates: some rows appear twice (the copy right after the original).
    - empty_file: no rows (the writer then writes a 0-byte file).
    Row-level kinds hit about 5% of the rows, at least one; `rng` picks them.
    """
    if kind not in CORRUPTION_KINDS:
        raise ValueError(
            f"Unknown corruption kind {kind!r}; use one of {', '.join(CORRUPTION_KINDS)}."
        )
    if kind == "missing_column":
        return frame.drop(columns=["price"])
    if kind == "empty_file":
        return frame.iloc[0:0].copy()
    rows = _pick_rows(len(frame), rng)
    if kind == "duplicates":
        return frame.iloc[np.sort(np.concatenate([np.arange(len(frame)), rows]))].copy()
    units = frame["units_sold"].to_numpy()
    if kind == "bad_dtype":
        corrupted_units = units.astype(str).astype(object)
        corrupted_units[rows] = BAD_UNITS_TOKEN
    else:  # negative_units
        corrupted_units = units.copy()
        corrupted_units[rows] = -rng.integers(*NEGATIVE_UNITS_RANGE, size=len(rows), endpoint=True)
    return frame.assign(units_sold=corrupted_units)


def _landing_frame(day_rows: pd.DataFrame, day: date, file_format: FileFormat) -> pd.DataFrame:
    """One day's clean rows in landing representation: `date` as a datetime.date (an ISO string
    in CSV, a date32 in parquet) and `on_promotion` as 0/1 in CSV, bool in parquet."""
    if file_format == "csv":
        return day_rows.assign(date=day, on_promotion=day_rows["on_promotion"].astype(np.int64))
    return day_rows.assign(date=day)


def _serialize(frame: pd.DataFrame, file_format: FileFormat) -> bytes:
    """File bytes of one day's frame; a frame without rows gives a 0-byte file."""
    if frame.empty:
        return b""
    if file_format == "csv":
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return bytes(sink.getvalue().to_pybytes())


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to a hidden temp file next to `path`, then rename it over `path`.

    Readers see either no file or the complete file. The temp name (".sales_....tmp") does not
    match the landing pattern `sales_*`.
    """
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, LANDING_FILE_MODE)  # mkstemp creates the file owner-only (0o600)
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(payload)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_landing_files(
    spec: SimulationSpec,
    landing_dir: Path,
    file_format: FileFormat = "csv",
    *,
    since: date | None = None,
) -> list[Path]:
    """Simulate `spec` and write one landing file per day into `landing_dir` (created if missing).

    `since`: write only the days from it on, as new days arriving after files already landed
    (the earlier days are simulated all the same, so the series continue where they left off).

    Files are named `sales_YYYY-MM-DD.<file_format>` and hold that day's rows with the columns
    date, store_id, product_id, units_sold, price, on_promotion. Days listed in
    `spec.corrupt_days` get that corruption (see `corrupt_day`); an empty_file day is a 0-byte
    file. Each file is written atomically (temp file in the same folder, then os.replace).
    Existing files of the same name are replaced. Returns the written paths in date order.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}, got {file_format!r}.")
    clean = simulate_sales(spec)
    # Rows are sorted by date: locate every day's slice once instead of filtering per day.
    day_starts = np.datetime64(spec.start, "ns") + np.arange(spec.n_days + 1) * np.timedelta64(
        1, "D"
    )
    bounds = np.searchsorted(clean["date"].to_numpy(), day_starts)
    landing_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    first = 0 if since is None else max((since - spec.start).days, 0)
    for offset in range(first, spec.n_days):
        day = spec.start + timedelta(days=offset)
        frame = _landing_frame(clean.iloc[bounds[offset] : bounds[offset + 1]], day, file_format)
        kind = spec.corrupt_days.get(day)
        if kind is not None:
            frame = corrupt_day(frame, kind, _rng(spec.seed, _Stream.CORRUPTION, day.toordinal()))
        path = landing_dir / f"sales_{day.isoformat()}.{file_format}"
        _write_atomically(path, _serialize(frame, file_format))
        paths.append(path)
    return paths
