# METADATA
# title: Every prod deployment has an SLO
# description: A deployment that serves the prod alias or label is the deployment of at least one SLO.
# custom:
#   id: prod_slo
#   severity: deny
package cairn.policy.prod_slo

import data.cairn.util

has_slo(name, d) if count(object.get(d, "slos", [])) > 0

has_slo(name, _) if {
	some s in input.bundle.slos
	s.deployment == name
}

deny contains v if {
	some name, d in input.bundle.deployments
	d.alias == "prod"
	not has_slo(name, d)
	v := {
		"msg": sprintf("deployment %q serves prod but no SLO names it", [name]),
		"target": util.target("deployments", name),
		"path": "alias",
	}
}
