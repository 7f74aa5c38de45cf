"""Shared fixtures: the repository, the drgdip command line, ../shared, CSV helpers."""

import csv
import os
import pathlib
import subprocess

import pyarrow as pa
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("DRGDIP_CLI", ROOT / "target" / "release" / "drgdip"))
SHARED = ROOT.parent / "shared"


def shared(rel: str) -> pathlib.Path:
    """A path under ../shared; skipped when absent, a failure under CI=true."""
    p = SHARED / rel
    if p.exists():
        return p
    if os.environ.get("CI") == "true":
        pytest.fail(f"{p} is missing: CI must have ../shared beside the checkout")
    pytest.skip(f"SKIPPED: {p} not found (../shared is not beside this checkout)")


def cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the drgdip command line; exit 0 (clean) and 1 (rows rejected) are fine."""
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build it with `cargo build --release -p drgdip-cli`")
    r = subprocess.run([str(CLI), *args], capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    return r


def read_csv_text(path) -> pa.Table:
    """A CSV file as a table of strings, every field as it is (empty stays empty)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return pa.table({h: [r[i] if i < len(r) else "" for r in body] for i, h in enumerate(header)})


def assert_same_table(got: pa.Table, want: pa.Table) -> None:
    """Same columns, same text in every cell, naming the first difference."""
    assert got.column_names == want.column_names
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        g, w = got[name].to_pylist(), want[name].to_pylist()
        if g != w:
            i = next(i for i, (a, b) in enumerate(zip(g, w)) if a != b)
            raise AssertionError(f"column {name}, row {i}: got {g[i]!r}, want {w[i]!r}")


@pytest.fixture(scope="session")
def demo_scheme():
    import drgdip

    return drgdip.load_scheme(ROOT / "data" / "demo-scheme")
