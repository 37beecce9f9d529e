package targets

import (
	"maps"
	"slices"
)

// renderArgoCD writes an Argo CD Application that syncs the rendered
// Kubernetes and KServe manifests. Only those folders are included: the
// Prometheus rules, Terraform and workflow files are not Kubernetes objects.
func renderArgoCD(r *run) error {
	g := r.in.Git
	if g.RepoURL == "" {
		// Without a repository there is nothing to point at; the CLI says so.
		return nil
	}
	rev := g.Revision
	if rev == "" {
		rev = "HEAD"
	}
	path := g.Path
	if path == "" {
		path = "rendered"
	}
	app := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata": map[string]any{
			"name":        r.b.Project.Name,
			"namespace":   "argocd",
			"labels":      map[string]any{"app.kubernetes.io/managed-by": "cairn", "cairn.dev/bundle": r.shortHash()},
			"annotations": r.annotations(nil),
			"finalizers":  []any{"resources-finalizer.argocd.argoproj.io"},
		},
		"spec": map[string]any{
			"project": "default",
			"source": map[string]any{
				"repoURL":        g.RepoURL,
				"targetRevision": rev,
				"path":           path,
				"directory": map[string]any{
					"recurse": true,
					"include": "{kserve/*.yaml,kubernetes/*/*.yaml}",
				},
			},
			// CreateNamespace needs a destination namespace; each manifest
			// names its own, so this is only the default for any that do not.
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": r.defaultNamespace()},
			"syncPolicy": map[string]any{
				"automated":   map[string]any{"prune": true, "selfHeal": true},
				"syncOptions": []any{"CreateNamespace=true"},
			},
		},
	}
	r.add("argocd/application.yaml", r.yamlDocs(app))
	return nil
}

// defaultNamespace is the namespace of the first deployment by name, else
// the project's name: Argo CD's destination.namespace, which CreateNamespace
// needs.
func (r *run) defaultNamespace() string {
	for _, name := range slices.Sorted(maps.Keys(r.b.Deployments)) {
		if ns := r.b.Deployments[name].Namespace; ns != "" {
			return ns
		}
	}
	return r.b.Project.Name
}
