"""Demographic estimates learned from the customers who declared theirs.

Attributes estimated: age group, income level (declared brackets coarsened
to ``low`` < $35K <= ``middle`` < $100K <= ``high``), household size and
household composition. Each is a multinomial logistic regression
(:func:`omnix.engine.logistic.fit_softmax`) over what the household buys:
square-rooted spend shares of the most important departments and categories
(the Hellinger transform, which keeps small shares informative) and a few
shopping-habit figures (order value, orders, product variety, private-label
share, units per line).

Honesty rules (DESIGN.md, "Analytics"). At fit time a K-fold
cross-validation compares each attribute's model with always answering the
declared mode; an attribute whose model does not beat the mode by at least
:data:`MIN_EDGE` is answered by the mode. On Complete Journey only household
composition and income level carry enough signal; age group and household
size are answered by the mode (docs/ANALYTICS.md). A customer with fewer
than :data:`MIN_LINES` purchase lines also gets the mode. The mode's
confidence is its population share (exactly its chance of being right); the
model's is its posterior probability.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.baskets import baskets_of
from omnix.engine.keys import IntArray, column_codes, derived
from omnix.engine.logistic import SoftmaxFit, fit_softmax

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ATTRIBUTES",
    "AttributeModel",
    "DemographicsModel",
    "estimate_demographics",
    "fit_demographics",
    "income_level",
    "spend_features",
]

ATTRIBUTES = ("age_group", "income_level", "household_size", "household_composition")
TOP_DEPARTMENTS = 20
TOP_CATEGORIES = 60
MIN_LINES = 20
MIN_DECLARED = 30
FOLDS = 5
# Ridge strength on standardised features. On Complete Journey (801 declared
# households, 85 features) 30 gave the best 5-fold accuracy for income level
# and household size among 1, 3, 10, 30, 100, 300 and within 0.5 point of the
# best for household composition.
L2 = 30.0
# The model must beat the mode by this much in cross-validation: a smaller
# edge on ~800 households is within the noise of the folds.
MIN_EDGE = 0.01


def income_level(bracket: str | None) -> str | None:
    """``low``/``middle``/``high`` from a bracket such as ``"35-49K"``.

    The lower bound of the bracket decides (``"Under 15K"`` counts as 0).
    Values already coarse pass through; anything unreadable gives None.
    """
    if bracket is None:
        return None
    text = bracket.strip().lower()
    if text in ("low", "middle", "high"):
        return text
    if text.startswith("under"):
        return "low"
    number = re.search(r"\d+", text)
    if number is None:
        return None
    lower = int(number.group())
    return "low" if lower < 35 else "middle" if lower < 100 else "high"


@dataclass(frozen=True, eq=False)
class AttributeModel:
    """One attribute: its softmax fit (or None), mode and CV accuracies."""

    attribute: str
    fit: SoftmaxFit | None
    mode: str
    mode_share: float
    cv_accuracy: float
    mode_accuracy: float
    declared: int

    @property
    def uses_model(self) -> bool:
        return (
            self.fit is not None and self.cv_accuracy >= self.mode_accuracy + MIN_EDGE
        )


@dataclass(frozen=True, eq=False)
class DemographicsModel:
    """Feature definition and one :class:`AttributeModel` per attribute."""

    departments: tuple[str, ...]
    categories: tuple[str, ...]
    attributes: tuple[AttributeModel, ...]

    def attribute(self, name: str) -> AttributeModel:
        for model in self.attributes:
            if model.attribute == name:
                return model
        raise ValueError(f"attribute: unknown {name!r}")


def _top(prepared: pl.DataFrame, column: str, n: int) -> tuple[str, ...]:
    """The ``n`` values of ``column`` with the most spend (ties by name)."""
    code, names = column_codes(prepared, column)
    known = code >= 0
    spend = np.bincount(
        code[known], prepared.get_column("value").to_numpy()[known], names.len()
    )
    order = np.lexsort((np.arange(names.len()), -spend))
    return tuple(names.gather(order[:n]).to_list())


def _spend_block(
    prepared: pl.DataFrame,
    customer: IntArray,
    customers: int,
    column: str,
    names: Sequence[str],
) -> FloatArray:
    """Spend per customer on each of ``names`` (values of ``column``)."""
    position = {name: at for at, name in enumerate(names)}
    if column == "category":
        # Categories are coded anyway (consumption, profile): map the codes.
        code, distinct = column_codes(prepared, column)
        of_code = [position.get(name, -1) for name in distinct.to_list()]
        at = np.array([*of_code, -1], np.int64)[code]
    else:
        at = (
            prepared.get_column(column)
            .replace_strict(position, default=-1, return_dtype=pl.Int64)
            .fill_null(-1)
            .to_numpy()
        )
    chosen = at >= 0
    spent = np.bincount(
        customer[chosen] * len(names) + at[chosen],
        prepared.get_column("value").to_numpy()[chosen],
        minlength=customers * len(names),
    )
    return np.asarray(spent, np.float64).reshape(customers, len(names))


def spend_features(
    prepared: pl.DataFrame, departments: Sequence[str], categories: Sequence[str]
) -> tuple[pl.DataFrame, FloatArray]:
    """Per customer (sorted by id): (customer_id, lines) and the feature matrix.

    ``prepared`` comes from :func:`omnix.engine.features.prepare_lines`.
    """
    customer, ids = column_codes(prepared, "customer_id")
    customers = ids.len()
    value = prepared.get_column("value").to_numpy()
    lines = np.bincount(customer, minlength=customers)
    spend = np.maximum(np.bincount(customer, value, minlength=customers), 1e-9)
    baskets = derived(prepared, "baskets", baskets_of)
    orders = np.bincount(baskets.order_customer, minlength=customers)
    products = np.bincount(baskets.pair_customer, minlength=customers)
    private = (prepared.get_column("brand") == "Private").fill_null(False).to_numpy()
    blocks = [
        np.sqrt(np.clip(block / spend[:, None], 0.0, 1.0))
        for block in (
            _spend_block(prepared, customer, customers, "department", departments),
            _spend_block(prepared, customer, customers, "category", categories),
        )
    ]
    units = np.bincount(
        customer, prepared.get_column("quantity").to_numpy(), minlength=customers
    )
    habits = np.column_stack(
        [
            np.log1p(spend / np.maximum(orders, 1)),
            np.log1p(orders),
            np.log1p(products),
            np.bincount(customer, value * private, minlength=customers) / spend,
            np.log(np.maximum(units / np.maximum(lines, 1), 1e-3)),
        ]
    )
    ids_frame = pl.DataFrame(
        {"customer_id": ids, "lines": pl.Series(lines, dtype=pl.UInt32)}
    )
    return ids_frame, np.hstack([*blocks, habits])


def _labels(customers: pl.DataFrame, attribute: str) -> pl.Series:
    if attribute not in customers.columns:
        return pl.Series(attribute, [None] * customers.height, dtype=pl.Utf8)
    values = customers[attribute].cast(pl.Utf8)
    if attribute == "income_level":
        return values.map_elements(income_level, return_dtype=pl.Utf8)
    return values


def _declared(customers: pl.DataFrame | None, attribute: str) -> pl.DataFrame:
    """(customer_id, declared value) of the customers who declared ``attribute``."""
    if customers is None:
        return pl.DataFrame(schema={"customer_id": pl.Utf8, attribute: pl.Utf8})
    return customers.select(
        pl.col("customer_id").cast(pl.Utf8), _labels(customers, attribute)
    ).filter(pl.col(attribute).is_not_null())


def _cross_validated_accuracy(
    matrix: FloatArray, labels: npt.NDArray[np.str_]
) -> tuple[float, float]:
    """(model accuracy, mode accuracy) over deterministic K folds."""
    fold = np.arange(labels.size) % FOLDS
    model_hits = mode_hits = 0
    for k in range(FOLDS):
        train, test = fold != k, fold == k
        values, counts = np.unique(labels[train], return_counts=True)
        mode = values[np.argmax(counts)]
        mode_hits += int((labels[test] == mode).sum())
        if values.size < 2:
            model_hits += int((labels[test] == mode).sum())
            continue
        fit = fit_softmax(matrix[train], labels[train].tolist(), l2=L2)
        predicted = np.asarray(fit.classes)[
            fit.predict_proba(matrix[test]).argmax(axis=1)
        ]
        model_hits += int((predicted == labels[test]).sum())
    return model_hits / labels.size, mode_hits / labels.size


def fit_demographics(
    prepared: pl.DataFrame, customers: pl.DataFrame | None
) -> DemographicsModel:
    """Learn every attribute from the customers who declared it.

    ``prepared`` are the population's prepared lines; ``customers`` the
    engine's customers frame (declared values may be null).
    """
    departments = _top(prepared, "department", TOP_DEPARTMENTS)
    categories = _top(prepared, "category", TOP_CATEGORIES)
    ids, matrix = spend_features(prepared, departments, categories)
    models = []
    for attribute in ATTRIBUTES:
        declared = _declared(customers, attribute)
        rows = (
            ids.with_row_index("row")
            .join(declared, on="customer_id")
            .sort("customer_id")
        )
        labels = rows[attribute].to_numpy().astype(str)
        if labels.size == 0:
            models.append(AttributeModel(attribute, None, "unknown", 0.0, 0.0, 0.0, 0))
            continue
        values, counts = np.unique(labels, return_counts=True)
        mode, share = str(values[np.argmax(counts)]), float(counts.max() / labels.size)
        fit, cv, mode_cv = None, share, share
        if labels.size >= MIN_DECLARED and values.size >= 2:
            features = matrix[rows["row"].to_numpy()]
            cv, mode_cv = _cross_validated_accuracy(features, labels)
            fit = fit_softmax(features, labels.tolist(), l2=L2)
        models.append(
            AttributeModel(attribute, fit, mode, share, cv, mode_cv, labels.size)
        )
    return DemographicsModel(departments, categories, tuple(models))


def estimate_demographics(
    model: DemographicsModel, prepared: pl.DataFrame
) -> pl.DataFrame:
    """Estimates for every customer in ``prepared``.

    Returns customer_id and, per attribute, ``<attribute>`` (the estimate),
    ``<attribute>_confidence`` and ``<attribute>_source`` (``model`` or
    ``population_mode``).
    """
    ids, matrix = spend_features(prepared, model.departments, model.categories)
    enough = ids["lines"].to_numpy() >= MIN_LINES
    columns: dict[str, object] = {"customer_id": ids["customer_id"]}
    for attribute in model.attributes:
        value = np.full(ids.height, attribute.mode, dtype=object)
        confidence = np.full(ids.height, attribute.mode_share)
        source = np.full(ids.height, "population_mode", dtype=object)
        if attribute.uses_model and attribute.fit is not None and enough.any():
            posterior = attribute.fit.predict_proba(matrix[enough])
            value[enough] = np.asarray(attribute.fit.classes)[posterior.argmax(axis=1)]
            confidence[enough] = posterior.max(axis=1)
            source[enough] = "model"
        name = attribute.attribute
        columns[name] = pl.Series(name, value.tolist(), dtype=pl.Utf8)
        columns[f"{name}_confidence"] = confidence
        columns[f"{name}_source"] = pl.Series(source.tolist(), dtype=pl.Utf8)
    return pl.DataFrame(columns)
