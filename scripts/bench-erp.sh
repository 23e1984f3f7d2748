#!/usr/bin/env bash
# The ERP adapter benchmark: synthetic voucher exports of N lines (default 1,000,000) from
# tests/fixtures/erp/bench.py (Kingdee K/3 GBK CSV, Yonyou U8 GBK text, Kingdee K/3 .xlsx),
# each ingested RUNS times into a fresh database, in release mode, reporting wall time,
# lines per second, CPU time (user + system) and peak resident memory. Then the same at a
# quarter of the size, so memory growth with file size is visible. Not a test.
#
#   scripts/bench-erp.sh [N] [RUNS] [--no-xlsx]      e.g. scripts/bench-erp.sh 1000000 3
#
# Needs python3 (and openpyxl for the .xlsx: `pip install openpyxl`; writing 1M rows takes
# about 10 minutes, once: the files are kept in $BENCH_DIR) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${2:-3}
xlsx=yes
for a in "$@"; do [ "$a" = --no-xlsx ] && xlsx=no; done
work=${BENCH_DIR:-${TMPDIR:-/tmp}/ledgerlens-bench-erp}

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y time >/dev/null; else echo "install GNU time" >&2; exit 2; fi
fi
cargo build --release --quiet
bin=$PWD/target/release/ledgerlens
mkdir -p "$work/data"

generate() { # lines
    local m=$1 flag=""
    [ "$xlsx" = no ] && flag=--no-xlsx
    if [ ! -s "$work/data/u8_vouchers_$m.txt" ] || { [ "$xlsx" = yes ] && [ ! -s "$work/data/k3_vouchers_$m.xlsx" ]; }; then
        echo "generating $m-line files in $work/data ..." >&2
        python3 tests/fixtures/erp/bench.py "$work/data" "$m" $flag >&2
    fi
}

project() { # dir, source file, adapter
    mkdir -p "$1"
    cat > "$1/ledgerlens.yaml" <<YAML
database: db
sources:
  - name: vouchers
    adapter: $3
    files: $2
    record: voucher-line
YAML
}

measure() { # label, lines, project dir
    local label=$1 lines=$2 dir=$3
    rm -rf "$dir/db"
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$bin" --project "$dir" ingest --format json > "$work/out.txt"
    read -r secs user sys kb < "$work/time.txt"
    awk -v l="$label" -v n="$lines" -v s="$secs" -v u="$user" -v y="$sys" -v k="$kb" \
        'BEGIN { printf "%-34s %7.2f s  %9.0f lines/s   CPU %6.2f s   peak RSS %5d MB\n", l, s, n / s, u + y, k / 1024 }'
    grep -E '^  "(rows_read|rows_stored|rows_quarantined|entries_stored)"' "$work/out.txt" | tr -d ' ,' | paste -sd' ' | sed 's/^/      /'
}

for m in "$n" $((n / 4)); do
    generate "$m"
    size() { du -hL "$1" | cut -f1; }
    for run in $(seq 1 "$runs"); do
        echo "run $run, $m lines"
        project "$work/k3csv" "$work/data/k3_vouchers_$m.csv" kingdee
        measure "  kingdee K/3 csv ($(size "$work/data/k3_vouchers_$m.csv"))" "$m" "$work/k3csv"
        project "$work/u8txt" "$work/data/u8_vouchers_$m.txt" yonyou
        measure "  yonyou U8 text ($(size "$work/data/u8_vouchers_$m.txt"))" "$m" "$work/u8txt"
        if [ "$xlsx" = yes ]; then
            project "$work/k3xlsx" "$work/data/k3_vouchers_$m.xlsx" kingdee
            measure "  kingdee K/3 xlsx ($(size "$work/data/k3_vouchers_$m.xlsx"))" "$m" "$work/k3xlsx"
        fi
    done
done
