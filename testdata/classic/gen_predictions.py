#!/usr/bin/env python3
"""Writes examples/fraud-detection/evals/holdout-predictions.csv: the fraud
model's scored hold-out set, 1,200 transactions, deterministic (seed 7).

The model ranks well overall (ROC AUC about 0.9), but it flags legitimate
transactions of cardholders in region "south" far more often than elsewhere:
its false-positive rate and selection rate there are several times the other
regions' — the unfairness the fairness gate is there to catch. Region "island"
has only 12 rows (a slice under the minimum size)."""
import csv, random, sys

rng = random.Random(7)
rows = []
regions = ["north"] * 520 + ["south"] * 380 + ["west"] * 288 + ["island"] * 12
rng.shuffle(regions)
for i, region in enumerate(regions):
    fraud = rng.random() < 0.12
    base = rng.betavariate(6, 2) if fraud else rng.betavariate(2, 7)
    if region == "south" and not fraud and rng.random() < 0.35:
        base = min(0.99, base + 0.45)  # the bias: legitimate southern transactions look risky
    age_band = rng.choice(["18-25", "26-40", "41-65", "65+"])
    rows.append({"transaction_id": f"txn-{i:05d}", "label": int(fraud), "score": f"{base:.4f}",
                 "region": region, "age_band": age_band})
w = csv.DictWriter(sys.stdout, fieldnames=["transaction_id", "label", "score", "region", "age_band"], lineterminator="\n")
w.writeheader()
w.writerows(rows)
