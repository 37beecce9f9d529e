package cairn.policy.batch_schedule_test

import rego.v1
import data.cairn.policy.batch_schedule

test_scheduled_ok if {
	count(batch_schedule.deny) == 0 with input as {"bundle": {"deployments": {"a": {"target": "batch", "schedule": "0 6 * * 1"}}}}
}

test_missing_schedule_denied if {
	count(batch_schedule.deny) == 1 with input as {"bundle": {"deployments": {"a": {"target": "batch"}}}}
}
