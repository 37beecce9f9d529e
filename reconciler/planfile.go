package reconciler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/jsonpos"
)

// MaxPlanFileSize bounds a saved plan read back (a plan of the generated
// 1,000-model repo is a few MB).
const MaxPlanFileSize = 64 << 20

// WritePlanFile saves p to path (its JSON form, written atomically), for
// `cairn apply PLANFILE`.
func WritePlanFile(path string, p *Plan) error {
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, FormatJSON); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing plan %s: %w", path, err)
	}
	return nil
}

// PlanFileError says a file is not a plan this cairn can apply.
type PlanFileError struct {
	Path string
	Why  string
}

func (e *PlanFileError) Error() string { return e.Path + ": not a cairn plan: " + e.Why }

var knownActions = map[ActionType]bool{}

func init() {
	for t := range phase {
		knownActions[t] = true
	}
}

// ReadPlanFile reads a plan saved by `cairn plan -out`. Anything else — too
// large, not JSON, unknown fields or action types, another format version —
// is a *PlanFileError naming the file and what is wrong.
func ReadPlanFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodePlan(path, f)
}

// DecodePlan is ReadPlanFile on a reader; name is used in errors.
func DecodePlan(name string, r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlanFileSize+1))
	if err != nil {
		return nil, &PlanFileError{name, err.Error()}
	}
	if len(data) > MaxPlanFileSize {
		return nil, &PlanFileError{name, fmt.Sprintf("larger than %d bytes", MaxPlanFileSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := jsonpos.LineCol(data, se.Offset-1) // Offset is just past the bad byte
			return nil, &PlanFileError{name, fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)}
		}
		return nil, &PlanFileError{name, err.Error()}
	}
	if dec.More() {
		return nil, &PlanFileError{name, "trailing data after the plan"}
	}
	switch {
	case p.FormatVersion != PlanFormatVersion:
		return nil, &PlanFileError{name, fmt.Sprintf("format_version %q, this cairn reads %q", truncate(p.FormatVersion, 20), PlanFormatVersion)}
	case !strings.HasPrefix(p.BundleHash, "sha256:"):
		return nil, &PlanFileError{name, "no bundle_hash"}
	case p.State.Fingerprint == "":
		return nil, &PlanFileError{name, "no state reference (state.fingerprint)"}
	}
	for i, a := range p.Actions {
		if !knownActions[a.Type] {
			return nil, &PlanFileError{name, fmt.Sprintf("actions[%d]: unknown type %q", i, truncate(string(a.Type), 40))}
		}
		if a.Status != StatusReady && !strings.HasPrefix(a.Status, "blocked: ") {
			return nil, &PlanFileError{name, fmt.Sprintf("actions[%d]: status %q is neither ready nor blocked", i, truncate(a.Status, 40))}
		}
	}
	if p.Actions == nil {
		p.Actions = []Action{}
	}
	p.Summary = nil // derived, not trusted from the file
	return &p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
}
