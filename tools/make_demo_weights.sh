#!/usr/bin/env bash
# Writes data/demo-weights.csv: DRG weights of the demo scheme computed by drgdip itself
# from three years of synthetic history (2022–2024, weighted 1:2:7).
# Run from the repository root after `cargo build --release`.
set -euo pipefail
bin=target/release/drgdip
tmp=$(mktemp -d)
for y in 2022 2023 2024; do
  $bin gen --scheme data/demo-scheme --cases 100000 --seed "$y" --year "$y" --output "$tmp/$y.csv"
done
{ cat "$tmp/2022.csv"; tail -n +2 "$tmp/2023.csv"; tail -n +2 "$tmp/2024.csv"; } > "$tmp/history.csv"
$bin drg weights --scheme data/demo-scheme --history "$tmp/history.csv" --output data/demo-weights.csv
rm -r "$tmp"
