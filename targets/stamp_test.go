package targets

import (
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cairn-dev/cairn/compiler"
)

// podSpecs returns, per rendered file and object, what a change to restarts
// pods: a Deployment's or CronJob's pod template and a KServe predictor.
func podSpecs(t *testing.T, files []File) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".yaml") {
			continue
		}
		for _, doc := range decodeDocs(t, f.Path, f.Content) {
			name, _ := dig(doc, "metadata", "name").(string)
			for _, path := range [][]string{{"spec", "template"}, {"spec", "predictor"}, {"spec", "jobTemplate", "spec", "template"}} {
				if v := dig(doc, path...); v != nil {
					b, err := yaml.Marshal(v)
					if err != nil {
						t.Fatal(err)
					}
					out[f.Path+" "+name+" "+strings.Join(path, ".")] = string(b)
				}
			}
		}
	}
	return out
}

// TestUnrelatedEditKeepsPodTemplates: an edit to the specs that does not
// change what a deployment serves (another object's owner, the project's
// description) changes the bundle hash but leaves every pod template and
// predictor byte-identical, so nothing restarts.
func TestUnrelatedEditKeepsPodTemplates(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			in := exampleInput(t, name)
			before := podSpecs(t, mustRender(t, in))
			if len(before) == 0 {
				t.Fatal("no pod templates rendered; the test would prove nothing")
			}
			b := *in.Bundle
			proj := b.Project
			proj.Description = "edited: " + proj.Description
			b.Project = proj
			if b.Hash() == in.Bundle.Hash() {
				t.Fatal("the edit did not change the bundle")
			}
			in.Bundle = &b
			after := podSpecs(t, mustRender(t, in))
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s changed:\n%s\nbecame\n%s", k, v, after[k])
				}
			}
		})
	}
}

var (
	labelValueRe  = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelNameRe   = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelPrefixRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// checkLabels applies Kubernetes' label syntax: an optional DNS-subdomain
// prefix (≤ 253) and a name (≤ 63), and a value of ≤ 63 characters.
func checkLabels(t *testing.T, where string, labels map[string]any) {
	t.Helper()
	for k, v := range labels {
		prefix, name, ok := strings.Cut(k, "/")
		if !ok {
			prefix, name = "", k
		}
		if prefix != "" && (len(prefix) > 253 || !labelPrefixRe.MatchString(prefix)) || len(name) > 63 || !labelNameRe.MatchString(name) {
			t.Errorf("%s: label key %q is not valid", where, k)
		}
		s, isString := v.(string)
		if !isString || len(s) > 63 || !labelValueRe.MatchString(s) {
			t.Errorf("%s: label %s value %#v is not valid", where, k, v)
		}
	}
}

// TestLabelsAreValid: every label every target renders, on the examples
// and with hostile names and versions, passes Kubernetes' syntax rules.
func TestLabelsAreValid(t *testing.T) {
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "labels" || k == "matchLabels" {
					if m, ok := c.(map[string]any); ok {
						checkLabels(t, where, m)
						continue
					}
				}
				walk(where, c)
			}
		case []any:
			for _, c := range x {
				walk(where, c)
			}
		}
	}
	inputs := map[string]Input{}
	for _, name := range examples {
		inputs[name] = exampleInput(t, name)
	}
	// A version with a '+', a long alias: sanitised, never invalid.
	hostile := exampleInput(t, "fraud-detection")
	const odd = "7+build.1/" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	b := *hostile.Bundle
	m := *b.Models["fraud-detector"]
	m.Aliases = map[string]string{"prod": m.Aliases["prod"], "staging": odd} // the canary's candidate: its labels
	b.Models = map[string]*compiler.Model{"fraud-detector": &m}
	hostile.Bundle = &b
	mv := hostile.State.Models["fraud-detector"]["8"]
	mv.Version = odd
	hostile.State.Models["fraud-detector"][odd] = mv
	hostile.State.Aliases["fraud-detector"]["staging"] = odd
	inputs["hostile"] = hostile
	for name, in := range inputs {
		files := mustRender(t, in)
		if name == "hostile" && !strings.Contains(string(fileMap(files)["kserve/fraud-api.yaml"]), "7_build.1_xxx") {
			t.Fatal("the hostile version is not what the fraud deployment serves; the test would prove nothing")
		}
		n := 0
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".yaml") || strings.HasPrefix(f.Path, "prometheus/") || strings.HasPrefix(f.Path, "alertmanager/") {
				continue
			}
			for _, doc := range decodeDocs(t, f.Path, f.Content) {
				walk(name+" "+f.Path, doc)
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: nothing rendered", name)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"1.4.0", "1.4.0"},
		{"v1+build.7", "v1_build.7"},
		{"-x-", "x"},
		{"", ""},
		{strings.Repeat("a", 70), strings.Repeat("a", 54) + "-"},
	} {
		got := LabelValue(tc.in)
		if !strings.HasPrefix(got, tc.want) || len(got) > 63 || !labelValueRe.MatchString(got) {
			t.Errorf("LabelValue(%q) = %q", tc.in, got)
		}
	}
	if LabelValue(strings.Repeat("a", 70)) == LabelValue(strings.Repeat("a", 71)) {
		t.Error("two long values became one label")
	}
}

// TestServingFollowsTheFirstRevision: what Serving says a deployment serves
// is what the renderer renders — a new KServe deployment's first revision is
// its stable version alone, and the canary (at its first step) follows once
// it was rendered.
func TestServingFollowsTheFirstRevision(t *testing.T) {
	in := exampleInput(t, "fraud-detection")
	in.State.Rendered = map[string]bool{}
	s := Serving(in.Bundle, in.State)["fraud-api"]
	if s.Canary != nil || s.Stable.Percent != 100 || s.Stable.Version != "7" {
		t.Fatalf("first revision: %+v canary %+v", s.Stable, s.Canary)
	}
	if strings.Contains(string(fileMap(mustRender(t, in))["kserve/fraud-api.yaml"]), "canaryTrafficPercent") {
		t.Fatal("the renderer rendered a canary on the first revision; Serving disagrees with it")
	}
	in.State.Rendered = map[string]bool{"fraud-api": true}
	s = Serving(in.Bundle, in.State)["fraud-api"]
	if s.Canary == nil || s.Canary.Version != "8" || s.Canary.Percent != 10 || s.Stable.Percent != 90 {
		t.Fatalf("after the first revision: %+v canary %+v", s.Stable, s.Canary)
	}
	if !strings.Contains(string(fileMap(mustRender(t, in))["kserve/fraud-api.yaml"]), "canaryTrafficPercent: 10") {
		t.Fatal("the renderer does not render the canary Serving says is served")
	}
}
