package cairn.policy.judge_independence_test

import data.cairn.policy.judge_independence as p

bundle(judge) := {"bundle": {
	"prompts": {"answer": {"model": {"id": "gpt-4o-mini"}}},
	"evals": {"qa": {"target": {"prompt": "answer"}, "target_model_id": "gpt-4o-mini", "metrics": {"facts": {"scorer": "factuality", "judge": {"provider": "openai", "model": judge}}}}},
}}

test_different_judge_passes if {
	count(p.deny) == 0 with input as bundle("gpt-4o")
	count(p.warn) == 0 with input as bundle("gpt-4o")
}

test_self_judging_denied if {
	p.deny == {{"msg": "metric \"facts\" of eval \"qa\" is judged by \"gpt-4o-mini\", the model it evaluates; use a different judge", "target": "evals/qa", "path": "metrics.facts.judge.model"}} with input as bundle("gpt-4o-mini")
}

test_same_family_warned if {
	count(p.deny) == 0 with input as bundle("gpt-4o-mini-2024-07-18")
	count(p.warn) == 1 with input as bundle("gpt-4o-mini-2024-07-18")
}

test_model_target_checked if {
	b := {"models": {"chat": {"kind": "llm", "model_id": "m1"}}, "evals": {"e": {"target": {"model": "chat"}, "target_model_id": "m1", "metrics": {"x": {"judge": {"model": "m1"}}}}}}
	count(p.deny) == 1 with input as {"bundle": b}
}
