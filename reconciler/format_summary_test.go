package reconciler

import "testing"

func TestActionSummary(t *testing.T) {
	const ev = "sha256:0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		a    Action
		want string
	}{
		{Action{Type: TriggerTraining, Object: "models/fraud", Name: TriggerKubernetesJob, After: ev, Training: &TrainingRun{Trigger: TriggerKubernetesJob}},
			"trigger_training models/fraud via kubernetes_job (evidence sha256:0123456789ab)"},
		{Action{Type: TriggerTraining, Object: "models/fraud", Name: TriggerWebhook, After: ev, Training: &TrainingRun{Trigger: TriggerWebhook}},
			"trigger_training models/fraud via webhook (evidence sha256:0123456789ab)"},
		{Action{Type: TriggerTraining, Object: "models/fraud", After: ev, Training: &TrainingRun{}},
			"trigger_training models/fraud via no trigger declared (evidence sha256:0123456789ab)"},
		{Action{Type: MovePromptLabel, Object: "prompts/a", Name: "prod", After: "1.1.0"}, "move_prompt_label prompts/a prod: (unset) → 1.1.0"},
	} {
		if got := tc.a.Summary(); got != tc.want {
			t.Errorf("Summary() = %q, want %q", got, tc.want)
		}
	}
}
