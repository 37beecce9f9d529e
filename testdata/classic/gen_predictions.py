#!/usr/bin/env python3
"""Writes examples/fraud-detection/evals/holdout-predictions.csv: the fraud
model's scored hold-out set, 1,200 transactions scored by each of versions 7,
8 and 9 (column model_version; the same transaction_ids), deterministic
(seed 7).

Versions 7 and 8 rank well (ROC AUC about 0.93 and 0.95) and treat regions
alike. Version 9 ranks about as well overall but flags legitimate
transactions of cardholders in region "south" far more often than elsewhere:
its false-positive rate and selection rate there are several times the other
regions' — the unfairness the fairness gate is there to catch. Age band
"90+" has only 8 rows (a slice under the minimum size, marked)."""
import csv, random, sys

rng = random.Random(7)
regions = ["north"] * 500 + ["south"] * 360 + ["west"] * 280 + ["island"] * 60
rng.shuffle(regions)
txns = []
for i, region in enumerate(regions):
    txns.append({"id": f"txn-{i:05d}", "fraud": rng.random() < 0.12, "region": region,
                 "age_band": "90+" if i % 150 == 0 else rng.choice(["18-25", "26-40", "41-65", "65+"]), "u": rng.random()})

# separation: the fraud and legit score distributions' beta parameters per version
versions = {"7": (4, 2, 2, 5), "8": (4.3, 2, 2, 5.3), "9": (4.5, 2, 2, 5.5)}
rows = []
for v, (fa, fb, la, lb) in versions.items():
    r = random.Random(int(v))
    for t in txns:
        s = r.betavariate(fa, fb) if t["fraud"] else r.betavariate(la, lb)
        if v == "9" and t["region"] == "south" and not t["fraud"] and t["u"] < 0.35:
            s = min(0.99, s + 0.45)  # the bias: legitimate southern transactions look risky
        rows.append({"transaction_id": t["id"], "model_version": v, "label": int(t["fraud"]), "score": f"{s:.4f}",
                     "region": t["region"], "age_band": t["age_band"]})
w = csv.DictWriter(sys.stdout, fieldnames=["transaction_id", "model_version", "label", "score", "region", "age_band"], lineterminator="\n")
w.writeheader()
w.writerows(rows)
