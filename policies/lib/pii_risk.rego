# METADATA
# title: PII features only in medium-or-higher risk models
# description: A model that reads a feature marked pii (directly or as derived in pii_features) has risk medium or high.
# custom:
#   id: pii_risk
#   severity: deny
package cairn.policy.pii_risk

import data.cairn.util

pii_features(m) := {f | some f in object.get(m, "pii_features", [])} | {f |
	some f in object.get(m, "features", [])
	input.bundle.features[f].pii == true
}

deny contains v if {
	some name, m in input.bundle.models
	object.get(m, "risk", "low") == "low"
	pii := pii_features(m)
	count(pii) > 0
	v := {
		"msg": sprintf("model %q reads PII features %v but has risk \"low\"; PII needs risk medium or high", [name, sort(pii)]),
		"target": util.target("models", name),
		"path": "risk",
	}
}
