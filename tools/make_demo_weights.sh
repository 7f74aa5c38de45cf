#!/usr/bin/env bash
# Writes the demo's calibration, both from the same synthetic history (three years,
# 2022–2024, 100,000 discharges each, weighted 1:2:7):
#   data/demo-weights.csv  DRG weights of data/demo-scheme (`drgdip drg weights`);
#   data/demo-scores.csv   DIP scores of data/demo-catalog's types (`drgdip dip scores`),
#                          the policy's `[dip] scores`.
# Deterministic: running it again writes the same files (a test checks they are up to
# date). Run from the repository root after `cargo build --release -p drgdip-cli`.
set -euo pipefail
bin=${DRGDIP:-target/release/drgdip}
out=${1:-data}
tmp=$(mktemp -d)
trap 'rm -r "$tmp"' EXIT
for y in 2022 2023 2024; do
  $bin gen --scheme data/demo-scheme --cases 100000 --seed "$y" --year "$y" --output "$tmp/$y.csv"
done
{ cat "$tmp/2022.csv"; tail -n +2 "$tmp/2023.csv"; tail -n +2 "$tmp/2024.csv"; } > "$tmp/history.csv"
$bin drg weights --scheme data/demo-scheme --history "$tmp/history.csv" --output "$out/demo-weights.csv"
$bin dip scores --catalog data/demo-catalog --history "$tmp/history.csv" --output "$out/demo-scores.csv"
