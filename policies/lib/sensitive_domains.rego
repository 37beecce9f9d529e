# METADATA
# title: Sensitive domains need explainability and high risk
# description: >-
#   A model whose domain is one of governance.sensitive_domains (credit, health, pricing,
#   employment, insurance by default) is classified risk "high", and a classic model there
#   declares an explainability method (shap or lime).
# custom:
#   id: sensitive_domains
#   severity: deny
package cairn.policy.sensitive_domains

import data.cairn.util

sensitive(m) if m.sensitive

sensitive(m) if m.domain in object.get(input.bundle, ["governance", "sensitive_domains"], [])

explainable(m) if m.explainability.method in {"shap", "lime"}

deny contains v if {
	some name, m in input.bundle.models
	sensitive(m)
	m.risk != "high"
	v := {
		"msg": sprintf("model %q is in sensitive domain %q but has risk %q; it must be \"high\"", [name, m.domain, m.risk]),
		"target": util.target("models", name),
		"path": "risk",
	}
}

deny contains v if {
	some name, m in input.bundle.models
	sensitive(m)
	m.kind == "classic"
	not explainable(m)
	v := {
		"msg": sprintf("model %q is in sensitive domain %q but declares no explainability method (shap or lime)", [name, m.domain]),
		"target": util.target("models", name),
		"path": "explainability",
	}
}
