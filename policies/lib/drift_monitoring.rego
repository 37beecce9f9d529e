# METADATA
# title: Prod classic models declare drift monitoring
# description: A classic model with a prod alias declares monitoring.drift (features, method, threshold).
# custom:
#   id: drift_monitoring
#   severity: deny
package cairn.policy.drift_monitoring

import data.cairn.util

deny contains v if {
	some name, m in input.bundle.models
	m.kind == "classic"
	m.aliases.prod
	not m.monitoring.drift
	v := {
		"msg": sprintf("classic model %q is served at prod but declares no drift monitoring (monitoring.drift)", [name]),
		"target": util.target("models", name),
		"path": "aliases.prod",
	}
}
