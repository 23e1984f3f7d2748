#!/usr/bin/env bash
# The ledgerlens benchmark: CDNOW_master scaled N times (default 100: 6,965,900 lines,
# 2,357,000 customers; copies get customer-id offsets), then ingest, feature computation,
# a run of the standard rule pack and a re-run after appending 1% more entries (the first
# 1% of the lines again), timed over repeated runs, with CPU time (user + system) and peak
# resident memory. Release mode. Not a test. On a shared machine, compare CPU times: wall
# times follow the load.
#
#   scripts/bench.sh [SCALE] [RUNS]        e.g. scripts/bench.sh 100 3
#
# Needs GNU time (/usr/bin/time; Debian package `time`, installed if missing and root).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-100}
runs=${2:-3}
work=${BENCH_DIR:-${TMPDIR:-/tmp}/ledgerlens-bench-x$scale}

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y time >/dev/null; else echo "install GNU time" >&2; exit 2; fi
fi
cargo build --release --quiet
bin=$PWD/target/release/ledgerlens

mkdir -p "$work/data"
data=$work/data/cdnow_x$scale.txt
if [ ! -s "$data" ]; then
    echo "generating $data ..." >&2
    awk -v scale="$scale" 'NR > 1 && NF == 4 { line[++n] = $0; id[n] = $1 + 0; rest[n] = $2 " " $3 " " $4 }
        END { for (k = 0; k < scale; k++) for (i = 1; i <= n; i++) printf "%08d %s\n", k * 100000 + id[i], rest[i] }' \
        "${CDNOW:-examples/cdnow/data/CDNOW_master.txt}" > "$data"
fi
cat > "$work/ledgerlens.yaml" <<YAML
database: db
sources:
  - name: cdnow
    files: data/cdnow_x$scale.txt
    record: transaction
    kind: sale
    currency: USD
    delimiter: whitespace
    header: absent
    system: cdnow
    columns: { customer: 1, date: 2, quantity: 3, amount: 4 }
YAML
lines=$(wc -l < "$data")
echo "data: $lines lines, $(du -h "$data" | cut -f1)"

measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" > "$work/out.txt"
    read -r secs user sys kb < "$work/time.txt"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    printf '%-28s %6.2f s   CPU %6.2f s   peak RSS %5d MB\n' "$label" "$secs" "$cpu" $((kb / 1024))
}

for run in $(seq 1 "$runs"); do
    rm -rf "$work/db"
    echo "run $run"
    measure "  ingest" "$bin" --project "$work" ingest --format json
    grep -E '^  "(rows_read|entries_stored|customers_new)"' "$work/out.txt" | tr -d ' ,' | paste -sd' ' | sed 's/^/    /'
    measure "  features (cold)" "$bin" --project "$work" features --format json
    measure "  features (cached)" "$bin" --project "$work" features --format json
    measure "  run (standard pack)" "$bin" --project "$work" run
    head -n $((lines / 100)) "$data" > "$work/data/append.txt"
    measure "  ingest 1% more" "$bin" --project "$work" ingest --source cdnow "$work/data/append.txt"
    measure "  run after the append" "$bin" --project "$work" run
    rm -f "$work/data/append.txt"
done
du -sh "$work/db" | awk '{print "database on disk: " $1}'
