"""The Spark example in local mode: 200,000 generated cases as a Parquet table, grouped
with DataFrame.mapInArrow and the compiled demo scheme, written as Parquet — the same
rows, cell for cell, as `drgdip group` on the same cases as CSV."""

import os
import sys

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, assert_same_table, cli, read_csv_text

pyspark = pytest.importorskip("pyspark") if os.environ.get("CI") != "true" else __import__("pyspark")

sys.path.insert(0, str(ROOT / "examples" / "spark"))
import group_parquet  # noqa: E402

CASES = 200_000


def test_spark_local_mode_matches_the_cli(tmp_path):
    from pyspark.sql import SparkSession

    scheme = ROOT / "data" / "demo-scheme"
    csv_cases = tmp_path / "cases.csv"
    cli("gen", "--scheme", str(scheme), "--cases", str(CASES), "--seed", "7", "--output", str(csv_cases))
    compiled = tmp_path / "demo.drgc"
    cli("scheme", "compile", str(scheme), "--output", str(compiled))
    cli_out = tmp_path / "cli.csv"
    cli("group", "--scheme", str(compiled), "--input", str(csv_cases), "--output", str(cli_out))
    cases = read_csv_text(csv_cases)
    pq.write_table(cases, tmp_path / "cases.parquet")

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("drgdip-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    try:
        source = spark.read.parquet(str(tmp_path / "cases.parquet"))
        out = group_parquet.build(spark, str(compiled), source)
        out.write.mode("overwrite").parquet(str(tmp_path / "spark-out"))
    finally:
        spark.stop()

    got = pq.read_table(tmp_path / "spark-out").sort_by("case_id")
    want = read_csv_text(cli_out).sort_by("case_id")
    assert got.num_rows == CASES
    # Spark gives its columns back as nullable strings; the text is what matters.
    assert_same_table(got.cast(want.schema), want)
    assert want["status"].to_pylist().count("grouped") > CASES * 0.9
