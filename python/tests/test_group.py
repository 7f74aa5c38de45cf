"""drgdip's Python package against its command line: pyarrow and pandas inputs, typed
columns and nulls, bad rows, errors, explanations, compiled artifacts, pricing."""

import math

import pandas as pd
import pyarrow as pa
import pytest

import drgdip
from conftest import ROOT, assert_same_table, cli, read_csv_text

DEMO_CASES = ROOT / "tests" / "corpus" / "demo.csv"


def cli_group(tmp_path, *args):
    out = tmp_path / "cli.csv"
    cli(*args, "--output", str(out))
    return read_csv_text(out)


def test_pyarrow_table_same_as_cli(tmp_path, demo_scheme):
    want = cli_group(tmp_path, "group", "--scheme", str(ROOT / "data/demo-scheme"), "--input", str(DEMO_CASES))
    got = demo_scheme.group(read_csv_text(DEMO_CASES))
    assert isinstance(got, pa.Table)
    assert_same_table(got, want)
    assert sum(demo_scheme.last_counts.values()) == want.num_rows
    assert demo_scheme.last_counts["grouped"] > 0


def test_pandas_in_pandas_out(tmp_path, demo_scheme):
    want = cli_group(
        tmp_path, "group", "--scheme", str(ROOT / "data/demo-scheme"), "--input", str(DEMO_CASES), "--carry"
    )
    df = pd.read_csv(DEMO_CASES, dtype=str, keep_default_na=False)
    got = demo_scheme.group(df, carry=True)
    assert isinstance(got, pd.DataFrame)
    assert list(got.columns) == want.column_names
    for c in want.column_names:
        assert [str(v) for v in got[c]] == want[c].to_pylist(), c


def test_typed_columns_and_nulls_read_as_their_text(demo_scheme):
    # Integers, a list of codes, nulls and a pandas float with NaN give what their
    # text gives.
    typed = pa.table(
        {
            "case_id": ["a", "b", "c"],
            "sex": pa.array([1, 2, 1], pa.int8()),
            "age": pa.array([67, None, 40], pa.int64()),
            "los": [9.0, 5.0, float("nan")],
            "diagnoses": pa.array([["I63.900", "A41.900"], ["I63.900"], None], pa.list_(pa.string())),
        }
    )
    text = pa.table(
        {
            "case_id": ["a", "b", "c"],
            "sex": ["1", "2", "1"],
            "age": ["67", "", "40"],
            "los": ["9", "5", ""],
            "diagnoses": ["I63.900|A41.900", "I63.900", ""],
        }
    )
    got, want = demo_scheme.group(typed), demo_scheme.group(text)
    assert_same_table(got, want)
    status = got["status"].to_pylist()
    assert status[0] == "grouped"
    # age is required: a null age is an invalid row naming its line and field.
    assert status[1] == "invalid" and got["message"][1].as_py().startswith("line 3, field `age`")
    assert status[2] == "invalid" and "line 4, field `diagnoses`" in got["message"][2].as_py()
    df = typed.to_pandas()
    assert df["age"].dtype.kind == "f" and math.isnan(df["age"][1]) and math.isnan(df["los"][2])
    assert_same_table(pa.Table.from_pandas(demo_scheme.group(df)), want)


def test_bad_rows_are_invalid_with_the_message(demo_scheme):
    t = pa.table(
        {
            "case_id": ["ok", "badsex", "badage"],
            "sex": ["1", "7", "1"],
            "age": ["67", "67", "x"],
            "los": ["9", "9", "9"],
            "diagnoses": ["I63.900", "I63.900", "I63.900"],
        }
    )
    out = demo_scheme.group(t, first_line=10)
    assert out["status"].to_pylist() == ["grouped", "invalid", "invalid"]
    assert out["message"][1].as_py().startswith("line 11, field `sex`")
    assert out["message"][2].as_py().startswith("line 12, field `age`")
    assert demo_scheme.last_counts == {"grouped": 1, "ungroupable": 0, "ambiguous": 0, "invalid": 2}


def test_errors_are_exceptions_with_the_rust_message(tmp_path, demo_scheme):
    with pytest.raises(drgdip.DrgdipError, match="no such scheme folder"):
        drgdip.load_scheme(tmp_path / "nowhere")
    with pytest.raises(drgdip.DrgdipError, match="no `diagnoses` column"):
        demo_scheme.group(pa.table({"case_id": ["a"], "sex": ["1"], "age": ["3"], "los": ["2"]}))
    bad = pa.table(
        {
            "case_id": ["a"],
            "sex": ["1"],
            "age": ["3"],
            "diagnoses": pa.array([{"x": 1}]),
        }
    )
    with pytest.raises(drgdip.DrgdipError, match="column `diagnoses` has type"):
        demo_scheme.group(bad)
    (tmp_path / "policy.toml").write_text("this is = not [ a policy")
    with pytest.raises(drgdip.DrgdipError, match="policy.toml"):
        drgdip.load_policy(tmp_path / "policy.toml")
    with pytest.raises(TypeError):
        demo_scheme.group([1, 2, 3])


def test_explain_is_a_dict_and_agrees_with_group(demo_scheme):
    case = {"case_id": "x", "sex": 1, "age": 67, "los": 9, "diagnoses": ["I63.900", "A41.900"]}
    e = demo_scheme.explain(case)
    assert isinstance(e, dict)
    row = demo_scheme.group(pa.table({k: [("|".join(v) if isinstance(v, list) else str(v))] for k, v in case.items()}))
    assert e["status"] == row["status"][0].as_py()
    assert e["result"]["drg"] == row["drg"][0].as_py()
    assert e["steps"], "an explanation lists its steps"
    with pytest.raises(drgdip.DrgdipError, match="field `sex`"):
        demo_scheme.explain({"case_id": "x", "sex": 7, "age": 1, "los": 2, "diagnoses": "I63.900"})


def test_compiled_artifact_groups_the_same(tmp_path, demo_scheme):
    path = tmp_path / "demo.drgc"
    demo_scheme.save(path)
    loaded = drgdip.load_scheme(path)
    assert loaded.label == demo_scheme.label
    t = read_csv_text(DEMO_CASES)
    assert_same_table(loaded.group(t), demo_scheme.group(t))


def test_dip_group_and_explain(tmp_path):
    catalog = drgdip.load_catalog(ROOT / "data" / "demo-catalog")
    want = cli_group(tmp_path, "dip", "group", "--catalog", str(ROOT / "data/demo-catalog"), "--input", str(DEMO_CASES))
    got = catalog.dip_group(read_csv_text(DEMO_CASES))
    assert_same_table(got, want)
    e = catalog.explain({"case_id": "x", "sex": 1, "age": 67, "diagnoses": "I63.900"})
    assert e["status"] == catalog.dip_group(
        pa.table({"case_id": ["x"], "sex": ["1"], "age": ["67"], "diagnoses": ["I63.900"]})
    )["status"][0].as_py()


def test_price_same_as_cli(tmp_path):
    cases = tmp_path / "cases.csv"
    cli("gen", "--scheme", str(ROOT / "data/demo-scheme"), "--cases", "5000", "--output", str(cases))
    grouped = tmp_path / "grouped.csv"
    cli("group", "--scheme", str(ROOT / "data/demo-scheme"), "--input", str(cases), "--carry", "--output", str(grouped))
    want = cli_group(tmp_path, "price", "--policy", str(ROOT / "data/demo-policy.toml"), "--input", str(grouped))
    policy = drgdip.load_policy(ROOT / "data" / "demo-policy.toml")
    got = policy.price(read_csv_text(grouped))
    assert_same_table(got, want)
    assert policy.last_counts["rows"] == 5000
    # Straight from grouping, typed as Arrow gives it.
    scheme = drgdip.load_scheme(ROOT / "data" / "demo-scheme")
    again = policy.price(scheme.group(read_csv_text(cases), carry=True))
    assert_same_table(again, want)
