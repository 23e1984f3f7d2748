#!/bin/sh
# Prints the shop's records for $SHOP_MONTH as JSON Lines on stdout. A real exporter
# would query the shop's database or API (see scripts/export.py); progress and errors go
# to stderr, and a non-zero exit status makes ledgerlens import nothing.
set -eu
month="${SHOP_MONTH:?set SHOP_MONTH (YYYY-MM)}"
echo "exporting $month" >&2
printf '%s\n' \
  '{"record": "customer", "code": "S001", "name": "厦门甲贸易有限公司", "phone": "13800138001", "channel": "微信", "first_seen": "2023-11-02"}' \
  '{"record": "customer", "code": "S002", "name": "乙咖啡", "phone": "13800138002", "channel": "抖音", "tags": ["新客"]}' \
  "{\"date\": \"$month-03\", \"customer\": \"S001\", \"document\": \"SO-1001\", \"amount\": 0.10}" \
  "{\"date\": \"$month-03\", \"customer\": \"S001\", \"document\": \"SO-1002\", \"amount\": 0.20}" \
  "{\"date\": \"$month-05\", \"customer\": \"S001\", \"document\": \"SO-1003\", \"amount\": \"1,299.70\"}" \
  "{\"date\": \"$month-09\", \"customer\": \"S002\", \"document\": \"SO-1004\", \"amount\": 88.80, \"quantity\": 2}" \
  "{\"record\": \"spend\", \"date\": \"$month-01\", \"channel\": \"微信\", \"campaign\": \"春季\", \"amount\": 300}"
