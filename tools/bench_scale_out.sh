#!/usr/bin/env bash
# The figures of docs/scale-out.md and docs/performance.md ("Arrow, Parquet, Python,
# Spark"): a million generated cases of a scheme grouped by the CLI (CSV → CSV and
# Parquet → Parquet), by the Python package from a pyarrow table, and by Spark local[2].
# Run under the shared cargo lock, after `cargo build --release -p drgdip-cli` and the
# wheel installed in target/venv (see .ci/run):
#   flock /work/.cargo.lock tools/bench_scale_out.sh [SCHEME] [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEME="${1:-../shared/schemes/chs-drg-1.1}"
CASES="${2:-1000000}"
PY=target/venv/bin/python
CLI=target/release/drgdip
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
T="/usr/bin/time -f %e_s_wall_%U_s_user_%S_s_sys_%M_KB"

$CLI scheme compile "$SCHEME" -o "$WORK/s.drgc" 2>/dev/null
$CLI gen --scheme "$SCHEME" --cases "$CASES" --seed 42 --output "$WORK/cases.csv" 2>/dev/null
# The same cases as Parquet (string columns), through the CLI's CSV → Parquet writer.
$PY - "$WORK" <<'PY'
import csv, sys, pyarrow as pa, pyarrow.parquet as pq
w = sys.argv[1]
with open(f"{w}/cases.csv", newline="") as f:
    rows = list(csv.reader(f))
t = pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])})
pq.write_table(t, f"{w}/cases.parquet")
PY
echo "cases: $CASES of $SCHEME; $(nproc) cores"
for run in 1 2; do
  echo "CLI CSV → CSV (run $run):"
  $T $CLI group --scheme "$WORK/s.drgc" --input "$WORK/cases.csv" --output "$WORK/out.csv" 2>&1 | tail -1
  echo "CLI Parquet → Parquet (run $run):"
  $T $CLI group --scheme "$WORK/s.drgc" --input "$WORK/cases.parquet" --output "$WORK/out.parquet" 2>&1 | tail -1
done
echo "Python group() on a pyarrow table (table in memory; only group() timed):"
$PY - "$WORK" <<'PY'
import resource, sys, time
import pyarrow.parquet as pq
import drgdip
w = sys.argv[1]
t = pq.read_table(f"{w}/cases.parquet")
s = drgdip.load_scheme(f"{w}/s.drgc")
s.group(t.slice(0, 10000))
for run in (1, 2, 3):
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = s.group(t)
    secs = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(f"  run {run}: {t.num_rows} rows in {secs:.2f} s wall, {cpu:.2f} s CPU, {t.num_rows/secs:,.0f} rows/s")
PY
echo "Spark local[2] (mapInArrow, Parquet → Parquet; read + group + write + count, JVM start excluded):"
PYSPARK_PYTHON="$PWD/$PY" $T $PY examples/spark/group_parquet.py --master 'local[2]' \
  --scheme "$WORK/s.drgc" --input "$WORK/cases.parquet" --output "$WORK/spark-out" 2>&1 | grep -E "drgdip-spark|_s_wall"
