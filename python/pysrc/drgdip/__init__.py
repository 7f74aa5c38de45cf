"""drgdip: CHS-DRG and DIP grouping and pricing of hospital discharges.

Load a scheme, catalogue or policy once, then give it whole tables::

    import drgdip, pyarrow.parquet as pq
    scheme = drgdip.load_scheme("schemes/chs-drg-1.1")   # folder, .xlsx or compiled file
    out = scheme.group(pq.read_table("cases.parquet"))    # a pyarrow.Table
    out = scheme.group(df)                                # a pandas.DataFrame → DataFrame

The output has the columns and the text of ``drgdip group`` (all strings); a bad row is
never an exception: it is a row with status ``invalid`` and a message naming the row
(``line N``: the first row is line 2, as in a CSV file with a header) and the field.
Tables cross into Rust through the Arrow C stream interface, without copying.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Tuple

import pyarrow as pa

from . import _drgdip
from ._drgdip import DrgdipError

__all__ = [
    "Catalog",
    "DrgdipError",
    "Policy",
    "Scheme",
    "CASE_COLUMNS",
    "load_catalog",
    "load_policy",
    "load_scheme",
]

#: The input columns drgdip reads (DRG grouping reads the first ten).
CASE_COLUMNS = tuple(_drgdip.case_columns())


def _to_arrow(table: Any) -> Tuple[pa.Table, bool]:
    """A pyarrow Table for the input, and whether it came as a pandas DataFrame."""
    if isinstance(table, pa.Table):
        return table, False
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table]), False
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        pd = None
    if pd is not None and isinstance(table, pd.DataFrame):
        return pa.Table.from_pandas(table, preserve_index=False), True
    if hasattr(table, "__arrow_c_stream__"):
        return pa.table(table), False
    raise TypeError(
        f"expected a pyarrow.Table, pyarrow.RecordBatch or pandas.DataFrame, got {type(table).__name__}"
    )


def _from_arrow(table: pa.Table, pandas: bool) -> Any:
    return table.to_pandas() if pandas else table


def _values(case: Mapping[str, Any]) -> list:
    """A case's values in the order of CASE_COLUMNS, as the text a CSV file holds."""
    unknown = set(case) - set(CASE_COLUMNS)
    if unknown:
        raise DrgdipError(
            f"unknown case field(s) {sorted(unknown)}; the fields are {list(CASE_COLUMNS)}"
        )
    out = []
    for name in CASE_COLUMNS:
        v = case.get(name)
        if v is None:
            out.append(None)
        elif isinstance(v, (list, tuple)):
            out.append("|".join(str(x) for x in v))
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


class _Compiled:
    """What a compiled scheme and a compiled catalogue share: the native object, its
    label, saving it, and the counts of the last run."""

    def __init__(self, native: Any) -> None:
        self._native = native
        #: Counts per outcome of the last grouping call.
        self.last_counts: Dict[str, int] = {}

    @property
    def label(self) -> str:
        """Name, version and content hash."""
        return self._native.label

    def save(self, path: str) -> None:
        """Writes the compiled file (load it back with the matching ``load_…``)."""
        self._native.save(str(path))


class Scheme(_Compiled):
    """A compiled CHS-DRG scheme (see :func:`load_scheme`)."""

    def group(
        self,
        table: Any,
        *,
        map_codes: bool = False,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Any:
        """Groups every row: one output row per input row, in order."""
        t, pandas = _to_arrow(table)
        out, counts = self._native.group(t, map_codes, carry, first_line, threads)
        self.last_counts = dict(counts)
        return _from_arrow(out, pandas)

    def explain(self, case: Mapping[str, Any], *, map_codes: bool = False) -> Dict[str, Any]:
        """How one case (a mapping of input column → value) is grouped, step by step."""
        return json.loads(self._native.explain(_values(case), map_codes))


class Catalog(_Compiled):
    """A compiled DIP catalogue (see :func:`load_catalog`)."""

    def dip_group(
        self,
        table: Any,
        *,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Any:
        """DIP-groups every row: one output row per input row, in order."""
        t, pandas = _to_arrow(table)
        out, counts = self._native.dip_group(t, carry, first_line, threads)
        self.last_counts = dict(counts)
        return _from_arrow(out, pandas)

    def explain(self, case: Mapping[str, Any]) -> Dict[str, Any]:
        """How one case (a mapping of input column → value) is DIP-grouped."""
        return json.loads(self._native.explain(_values(case)))


class Policy:
    """A regional pricing and benefit policy (see :func:`load_policy`)."""

    def __init__(self, native: Any) -> None:
        self._native = native
        #: ``rows``, ``rejected`` and ``not_grouped`` of the last :meth:`price` call.
        self.last_counts: Dict[str, int] = {}

    def price(self, table: Any, *, threads: Optional[int] = None) -> Any:
        """Prices grouped rows (``group(..., carry=True)`` output with the policy's columns)."""
        t, pandas = _to_arrow(table)
        out, (rows, rejected, not_grouped) = self._native.price(t, threads)
        self.last_counts = {"rows": rows, "rejected": rejected, "not_grouped": not_grouped}
        return _from_arrow(out, pandas)


def load_scheme(path: str, errata: Optional[str] = None) -> Scheme:
    """Loads a scheme folder, an official workbook (``.xlsx``) or a compiled scheme file."""
    return Scheme(_drgdip.Scheme.load(str(path), None if errata is None else str(errata)))


def load_catalog(path: str) -> Catalog:
    """Loads a DIP catalogue folder, the national DIP workbook or a compiled catalogue."""
    return Catalog(_drgdip.Catalog.load(str(path)))


def load_policy(path: str) -> Policy:
    """Loads a policy file (TOML)."""
    return Policy(_drgdip.Policy.load(str(path)))
