# METADATA
# title: Batch deployments run on a schedule
# description: every batch deployment declares a cron schedule
# custom:
#   severity: deny
package cairn.policy.batch_schedule

import rego.v1

deny contains v if {
	some name, d in input.bundle.deployments
	d.target == "batch"
	not d.schedule
	v := {"msg": sprintf("batch deployment %q has no schedule", [name]), "target": sprintf("deployments/%s", [name]), "path": "schedule"}
}
