"""drgdip inside Spark (or any engine that hands out Arrow record batches).

``DataFrame.mapInArrow`` runs a Python function over an iterator of
``pyarrow.RecordBatch`` per partition. :func:`group_batches` is that function's body:
it loads the compiled scheme (or catalogue) once per Python worker process — Spark
reuses its Python workers, so once per executor core, not once per task — and groups
batch by batch::

    from pyspark import SparkFiles
    import drgdip.spark

    spark.sparkContext.addFile("chs-drg-1.1.drgc")           # shipped to every executor
    schema = drgdip.spark.spark_schema("drg")

    def group(batches):
        return drgdip.spark.group_batches(batches, SparkFiles.get("chs-drg-1.1.drgc"))

    spark.read.parquet(src).mapInArrow(group, schema).write.parquet(dst)

This module does not import pyspark: it only needs pyarrow.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, Tuple

import pyarrow as pa

from . import _drgdip, load_catalog, load_scheme

_LOADED: Dict[Tuple[str, str], object] = {}


def loaded(kind: str, path: str):
    """The scheme (``kind="drg"``) or catalogue (``"dip"``) at ``path``, loaded once per process."""
    key = (kind, str(path))
    if key not in _LOADED:
        if kind == "drg":
            _LOADED[key] = load_scheme(path)
        elif kind == "dip":
            _LOADED[key] = load_catalog(path)
        else:
            raise ValueError(f"kind must be 'drg' or 'dip', not {kind!r}")
    return _LOADED[key]


def output_columns(kind: str = "drg") -> list:
    """The output columns of DRG (``"drg"``) or DIP (``"dip"``) grouping."""
    return list(_drgdip.group_header() if kind == "drg" else _drgdip.dip_header())


def spark_schema(kind: str = "drg") -> str:
    """The output schema as Spark DDL (every column a string)."""
    return ", ".join(f"`{c}` string" for c in output_columns(kind))


def group_batches(
    batches: Iterable[pa.RecordBatch],
    path: str,
    kind: str = "drg",
    map_codes: bool = False,
    threads: int = 1,
) -> Iterator[pa.RecordBatch]:
    """Groups each batch with the scheme or catalogue at ``path`` (loaded once per process).

    ``threads`` per call is 1 by default: Spark already runs one task per core. Rows are
    numbered from line 2 in each batch: a message's ``line N`` is the row within its
    batch; ``case_id`` names the case.
    """
    grouper = loaded(kind, path)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if kind == "drg":
            out = grouper.group(table, map_codes=map_codes, threads=threads)
        else:
            out = grouper.dip_group(table, threads=threads)
        yield from out.to_batches()
