package targets

import "github.com/cairn-dev/cairn/compiler"

// servedAsDeclared returns v with the state serving every alias and label
// at the version the specs declare, and the bundle's current prompt versions
// registered: the state after an apply whose gates all passed. Golden tests
// use it; the tests of what is left out before gates pass use View as is.
// Every deployment has been rendered before (its first revision exists).
func servedAsDeclared(b *compiler.Bundle, v View) View {
	v.Rendered = map[string]bool{}
	for name := range b.Deployments {
		v.Rendered[name] = true
	}
	v.Aliases = map[string]map[string]string{}
	v.Labels = map[string]map[string]string{}
	for name, m := range b.Models {
		v.Aliases[name] = map[string]string{}
		for a, ver := range m.Aliases {
			v.Aliases[name][a] = ver
		}
	}
	if v.Prompts == nil {
		v.Prompts = map[string]map[string]PromptVersion{}
	}
	for name, p := range b.Prompts {
		v.Labels[name] = map[string]string{}
		for l, ver := range p.Labels {
			v.Labels[name][l] = ver
		}
		if v.Prompts[name] == nil {
			v.Prompts[name] = map[string]PromptVersion{}
		}
		if _, ok := v.Prompts[name][p.Version]; !ok {
			v.Prompts[name][p.Version] = PromptVersion{Version: p.Version, ContentHash: p.ContentHash, Template: p.Template,
				Messages: p.Messages, Inputs: p.Inputs, Model: p.Model}
		}
	}
	return v
}
