#!/usr/bin/env python3
"""The same export as export.sh, in Python: print one JSON object per line.

Use it with `command: [python3, scripts/export.py]`. Amounts are written as strings (or
as decimal.Decimal converted with str): ledgerlens reads numbers from their text, but a
Python float such as 0.1 + 0.2 prints as 0.30000000000000004.
"""
import json
import os
import sys

month = os.environ.get("SHOP_MONTH") or sys.exit("set SHOP_MONTH (YYYY-MM)")
print(f"exporting {month}", file=sys.stderr)
records = [
    {"record": "customer", "code": "S001", "name": "厦门甲贸易有限公司",
     "phone": "13800138001", "channel": "微信", "first_seen": "2023-11-02"},
    {"record": "customer", "code": "S002", "name": "乙咖啡", "phone": "13800138002",
     "channel": "抖音", "tags": ["新客"]},
    {"date": f"{month}-03", "customer": "S001", "document": "SO-1001", "amount": "0.10"},
    {"date": f"{month}-03", "customer": "S001", "document": "SO-1002", "amount": "0.20"},
    {"date": f"{month}-05", "customer": "S001", "document": "SO-1003", "amount": "1,299.70"},
    {"date": f"{month}-09", "customer": "S002", "document": "SO-1004", "amount": "88.80",
     "quantity": 2},
    {"record": "spend", "date": f"{month}-01", "channel": "微信", "campaign": "春季",
     "amount": "300"},
]
for record in records:
    print(json.dumps(record, ensure_ascii=False))
