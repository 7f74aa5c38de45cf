"""The 20,000 reference cases of every shared scheme: the Python package gives the
command line's output, cell for cell (DRG 1.1, 1.0, Changzhou 2022, the 3.0 workbook
with its errata, the national DIP 3.0 catalogue)."""

import pytest

import drgdip
from conftest import assert_same_table, cli, read_csv_text, shared


@pytest.mark.parametrize("name", ["chs-drg-1.1", "chs-drg-1.0", "changzhou-2022"])
def test_drg_folder_schemes(tmp_path, name):
    scheme_dir = shared(f"schemes/{name}")
    cases = shared(f"reference/{name}/cases-20k.csv")
    out = tmp_path / "cli.csv"
    cli("group", "--scheme", str(scheme_dir), "--input", str(cases), "--output", str(out))
    got = drgdip.load_scheme(scheme_dir).group(read_csv_text(cases))
    assert got.num_rows == 20_000
    assert_same_table(got, read_csv_text(out))


def test_drg_3_0_workbook_through_a_compiled_artifact(tmp_path):
    wb = shared("schemes/chs-drg-3.0/chs-drg-3.0-workbook.xlsx")
    errata = wb.with_name("errata.json")
    cases = shared("reference/chs-drg-3.0/cases-20k.csv")
    compiled = tmp_path / "chs-drg-3.0.drgc"
    cli("scheme", "compile", str(wb), "--errata", str(errata), "--output", str(compiled))
    out = tmp_path / "cli.csv"
    cli("group", "--scheme", str(compiled), "--input", str(cases), "--output", str(out))
    got = drgdip.load_scheme(compiled).group(read_csv_text(cases))
    assert_same_table(got, read_csv_text(out))


def test_dip_3_0_national(tmp_path):
    wb = shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx")
    cases = shared("reference/dip-3.0/cases-20k.csv")
    out = tmp_path / "cli.csv"
    cli("dip", "group", "--catalog", str(wb), "--input", str(cases), "--output", str(out))
    got = drgdip.load_catalog(wb).dip_group(read_csv_text(cases))
    assert got.num_rows == 20_000
    assert_same_table(got, read_csv_text(out))
