"""Group a Parquet table of discharges with drgdip inside Spark.

    spark-submit examples/spark/group_parquet.py \
        --scheme chs-drg-1.1.drgc --input cases.parquet --output grouped.parquet

The compiled scheme (``drgdip scheme compile``) or catalogue (``--dip``; a compiled
catalogue from ``drgdip dip compile``, or a folder/workbook on a shared file system) is
shipped to every executor with ``addFile`` and loaded once per Python worker; the
table is grouped with ``DataFrame.mapInArrow``, batch by batch, without leaving Arrow;
the result is written as Parquet. The executors need the drgdip wheel installed (see
docs/scale-out.md).

``--carry`` keeps the input's columns after drgdip's (a join on ``case_id`` would do
the same).
"""

import argparse
import os
import sys
import time

from pyspark import SparkFiles
from pyspark.sql import SparkSession


def build(spark, scheme, source, kind="drg", carry=False):
    """The grouped DataFrame of ``source`` (a DataFrame) with the scheme file ``scheme``."""
    import drgdip.spark

    spark.sparkContext.addFile(os.path.abspath(scheme))
    name = os.path.basename(scheme)
    cols = drgdip.spark.output_columns(kind)
    ddl = drgdip.spark.spark_schema(kind)
    if carry:
        extra = [f for f in source.schema.fields if f.name not in cols]
        ddl = ", ".join([ddl] + [f"`{f.name}` {f.dataType.simpleString()}" for f in extra])

    def group(batches):
        import pyarrow as pa

        import drgdip.spark as ds

        path = SparkFiles.get(name)
        for batch in batches:
            for out in ds.group_batches([batch], path, kind=kind):
                if carry:
                    # The input's own columns, as they are, after drgdip's.
                    keep = [c for c in batch.schema.names if c not in cols]
                    out = pa.RecordBatch.from_arrays(
                        out.columns + [batch.column(c) for c in keep],
                        names=out.schema.names + keep,
                    )
                yield out

    return source.mapInArrow(group, ddl)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scheme", required=True, help="compiled scheme (.drgc) or catalogue file")
    p.add_argument("--input", required=True, help="Parquet table of cases")
    p.add_argument("--output", required=True, help="Parquet output (a folder, as Spark writes)")
    p.add_argument("--dip", action="store_true", help="DIP grouping with a catalogue")
    p.add_argument("--carry", action="store_true", help="keep the input's columns")
    p.add_argument("--master", default=None, help="e.g. local[2] (default: spark-submit's)")
    args = p.parse_args(argv)
    builder = SparkSession.builder.appName("drgdip-group")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    started = time.time()
    source = spark.read.parquet(args.input)
    out = build(spark, args.scheme, source, "dip" if args.dip else "drg", args.carry)
    out.write.mode("overwrite").parquet(args.output)
    rows = spark.read.parquet(args.output).count()
    secs = time.time() - started
    print(f"drgdip-spark: {rows} cases in {secs:.1f} s, {rows / secs:.0f} cases/s", file=sys.stderr)
    spark.stop()


if __name__ == "__main__":
    main()
