package reconciler

import (
	"bytes"
	"encoding/json"

	"github.com/cairn-dev/cairn/internal/diag"
)

// Change says what an action does to the world, in Terraform's words plus
// cairn's own (docs/plan.schema.json lists them).
type Change string

const (
	ChangeCreate   Change = "create"
	ChangeUpdate   Change = "update"
	ChangeDelete   Change = "delete"
	ChangeNoOp     Change = "no-op"
	ChangeRegister Change = "register" // an immutable version enters the registry
	ChangeEvaluate Change = "evaluate" // an eval suite runs against an exact subject
	ChangePromote  Change = "promote"  // an alias or label moves (a rollback too)
	ChangeTrigger  Change = "trigger"  // a training trigger fires
)

// Change classifies the action.
func (a Action) Change() Change {
	switch a.Type {
	case RegisterPromptVersion:
		return ChangeRegister
	case RunEval:
		return ChangeEvaluate
	case MovePromptLabel, MoveModelAlias:
		return ChangePromote
	case DeletePromptLabel, DeleteModelAlias, DeleteDeployment:
		return ChangeDelete
	case TriggerTraining:
		return ChangeTrigger
	}
	switch {
	case a.After == "" && a.Before != "":
		return ChangeDelete
	case a.Before == "":
		return ChangeCreate
	case a.Before == a.After:
		return ChangeNoOp
	}
	return ChangeUpdate
}

// Address names what the action changes: the object, and the alias or label
// of a move or delete ("prompts/support-answer.labels.prod").
func (a Action) Address() string {
	switch a.Type {
	case MovePromptLabel, DeletePromptLabel:
		return a.Object + ".labels." + a.Name
	case MoveModelAlias, DeleteModelAlias:
		return a.Object + ".aliases." + a.Name
	}
	return a.Object
}

// actionJSON is an action as the plan JSON writes it: the fields plus its
// change and address, and no position when it has none.
type actionJSON struct {
	Type          ActionType     `json:"type"`
	Change        Change         `json:"change"`
	Address       string         `json:"address"`
	Object        string         `json:"object"`
	Name          string         `json:"name,omitempty"`
	Reason        string         `json:"reason"`
	Before        string         `json:"before,omitempty"`
	After         string         `json:"after,omitempty"`
	Status        string         `json:"status"`
	Ready         bool           `json:"ready"`
	Gates         []GateCheck    `json:"gates,omitempty"`
	Pos           *diag.Position `json:"pos,omitempty"`
	Subject       string         `json:"subject,omitempty"`
	TargetVersion string         `json:"target_version,omitempty"`
	Training      *TrainingRun   `json:"training,omitempty"`
	Compared      []Compared     `json:"compared,omitempty"`
}

// MarshalJSON writes the documented shape.
func (a Action) MarshalJSON() ([]byte, error) {
	j := actionJSON{Type: a.Type, Change: a.Change(), Address: a.Address(), Object: a.Object, Name: a.Name, Reason: a.Reason,
		Before: a.Before, After: a.After, Status: a.Status, Ready: a.Ready(), Gates: a.Gates, Subject: a.Subject,
		TargetVersion: a.TargetVersion, Training: a.Training, Compared: a.Compared}
	if a.Pos.IsValid() {
		p := a.Pos
		j.Pos = &p
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // ">= 0.92" stays readable
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UnmarshalJSON reads it back (a saved plan); change, address and ready are
// derived, so what a file says of them is not trusted.
func (a *Action) UnmarshalJSON(data []byte) error {
	var j actionJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*a = Action{Type: j.Type, Object: j.Object, Name: j.Name, Reason: j.Reason, Before: j.Before, After: j.After, Status: j.Status,
		Gates: j.Gates, Subject: j.Subject, TargetVersion: j.TargetVersion, Training: j.Training, Compared: j.Compared}
	if j.Pos != nil {
		a.Pos = *j.Pos
	}
	return nil
}

// Summary counts a plan's actions by change and by readiness.
type Summary struct {
	Total   int            `json:"total"`
	Ready   int            `json:"ready"`
	Blocked int            `json:"blocked"`
	Changes map[Change]int `json:"changes"`
}

// Summarize counts the plan's actions.
func (p *Plan) Summarize() Summary {
	s := Summary{Total: len(p.Actions), Changes: map[Change]int{}}
	for _, a := range p.Actions {
		s.Changes[a.Change()]++
		if a.Ready() {
			s.Ready++
		} else {
			s.Blocked++
		}
	}
	return s
}
