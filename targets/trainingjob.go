package targets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"gopkg.in/yaml.v3"
)

// TrainingRun is one retraining the reconciler fires for a piece of evidence.
type TrainingRun struct {
	Model      string
	EvidenceID string   // the decision's evidence id (data/training.Decision.EvidenceID)
	Reasons    []string // why retraining is due, one line each
}

// TrainingJobHeader opens a Job manifest written by apply. It deliberately
// differs from the render header: the file is a one-off record of a fired
// trigger, not a render target, so `cairn render` must not remove it as stale.
const TrainingJobHeader = "# written by cairn apply (trigger_training) — one Job per piece of evidence; kept by cairn render\n"

// TrainingJob renders the batch/v1 Job that retrains a model whose
// training.trigger is kubernetes_job, for the evidence that made it due:
// "kubernetes/<namespace>/train-<model>-<evidence>.yaml" under rendered/.
// The same bundle and run give the same bytes, so writing it again after a
// crash changes nothing.
func TrainingJob(b *compiler.Bundle, tr TrainingRun) (File, error) {
	m := b.Models[tr.Model]
	if m == nil {
		return File{}, fmt.Errorf("training job: no model %q in the bundle", tr.Model)
	}
	if m.Training == nil || m.Training.Trigger == nil || m.Training.Trigger.KubernetesJob == nil {
		return File{}, fmt.Errorf("training job: model %s has no training.trigger.kubernetes_job", tr.Model)
	}
	if tr.EvidenceID == "" {
		return File{}, fmt.Errorf("training job: model %s: no evidence id", tr.Model)
	}
	hash, err := bundleHash(b)
	if err != nil {
		return File{}, err
	}
	r := &run{b: b, hash: hash}
	t, job := m.Training, m.Training.Trigger.KubernetesJob
	ns := job.Namespace
	if ns == "" {
		ns = r.modelNamespace(m)
	}
	short := EvidenceShort(tr.EvidenceID)
	name := jobName(m.Name, short)
	// CAIRN_TRIGGER_ID is what the job passes to registry register --trigger,
	// so the version it produces names the trigger (lineage).
	env := []any{envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_TRAINING_DATA", t.Data), envVar("CAIRN_EVIDENCE_ID", tr.EvidenceID), envVar("CAIRN_TRIGGER_ID", tr.EvidenceID)}
	if t.Window != "" {
		env = append(env, envVar("CAIRN_TRAINING_WINDOW", t.Window))
	}
	if len(m.Features) > 0 {
		env = append(env, envVar("CAIRN_FEATURES", joinComma(m.Features)))
	}
	if len(tr.Reasons) > 0 {
		env = append(env, envVar("CAIRN_TRAINING_REASONS", strings.Join(tr.Reasons, "\n")))
	}
	podLabels := map[string]any{"cairn.dev/model": m.Name, "cairn.dev/role": "training", "cairn.dev/evidence": short}
	doc := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata": map[string]any{
			"name":      name,
			"namespace": ns,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "cairn", "cairn.dev/model": m.Name, "cairn.dev/role": "training",
				"cairn.dev/evidence": short, "cairn.dev/bundle": r.shortHash()},
			"annotations": r.annotations(map[string]any{"cairn.dev/evidence-id": tr.EvidenceID}),
		},
		"spec": map[string]any{
			"backoffLimit": 1,
			"template": map[string]any{
				"metadata": map[string]any{"labels": podLabels},
				"spec": map[string]any{"restartPolicy": "Never", "containers": []any{
					map[string]any{"name": "train", "image": job.Image, "env": env},
				}},
			},
		},
	}
	var buf bytes.Buffer
	buf.WriteString(TrainingJobHeader)
	buf.WriteString("# bundle " + hash + "\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return File{}, fmt.Errorf("training job %s: %w", name, err)
	}
	_ = enc.Close()
	return File{Path: "kubernetes/" + ns + "/" + name + ".yaml", Content: buf.Bytes()}, nil
}

// EvidenceShort is the 10 hex digits naming a piece of evidence in Job names
// and labels: those of a "sha256:" id, else of the id's sha256.
func EvidenceShort(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if h == id || len(h) < 10 || strings.Trim(h, "0123456789abcdef") != "" {
		s := sha256.Sum256([]byte(id))
		h = hex.EncodeToString(s[:])
	}
	return h[:10]
}

// jobName is "train-<model>-<evidence>", the model part cut so the name fits
// the 63 characters of the job-name label Kubernetes puts on its pods.
func jobName(model, short string) string {
	room := 63 - len("train-") - 1 - len(short)
	if len(model) > room {
		model = strings.TrimRight(model[:room], "-")
	}
	return "train-" + model + "-" + short
}
