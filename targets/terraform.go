package targets

import (
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// tfVariable is an input the rendered Terraform needs from the operator:
// cairn knows models and versions, not cloud accounts.
type tfVariable struct {
	name, typ, description string
	def                    *cty.Value
}

// renderTerraform writes one .tf file per sagemaker or vertex deployment and
// a variables.tf declaring the inputs they use.
func renderTerraform(r *run) error {
	vars := map[string]tfVariable{}
	providers := map[string]bool{}
	for _, d := range r.deployments("sagemaker", "vertex") {
		if d.Model == "" {
			r.errorf("deployments/"+d.Name, "target", "deployment %s: target %s serves models", d.Name, d.Target)
			continue
		}
		m, ro, ok := r.resolveModel(d)
		if !ok {
			continue
		}
		f := hclwrite.NewEmptyFile()
		if d.Target == "sagemaker" {
			r.sagemaker(f.Body(), d, m, ro, vars)
			providers["aws"] = true
		} else {
			r.vertex(f.Body(), d, m, ro, vars)
			providers["google"] = true
		}
		r.add("terraform/"+d.Name+".tf", r.hclFile(f))
	}
	if len(providers) > 0 {
		// The providers these resources need, pinned to the major versions
		// whose schemas the files follow.
		f := hclwrite.NewEmptyFile()
		tb := f.Body().AppendNewBlock("terraform", nil).Body()
		tb.SetAttributeValue("required_version", cty.StringVal(">= 1.5"))
		rp := tb.AppendNewBlock("required_providers", nil).Body()
		source := map[string][2]string{"aws": {"hashicorp/aws", ">= 5.0, < 7.0"}, "google": {"hashicorp/google", ">= 5.0, < 7.0"}}
		for _, p := range slices.Sorted(maps.Keys(providers)) {
			rp.SetAttributeValue(p, cty.ObjectVal(map[string]cty.Value{"source": cty.StringVal(source[p][0]), "version": cty.StringVal(source[p][1])}))
		}
		r.add("terraform/versions.tf", r.hclFile(f))
	}
	if len(vars) > 0 {
		f := hclwrite.NewEmptyFile()
		for i, name := range slices.Sorted(maps.Keys(vars)) {
			v := vars[name]
			if i > 0 {
				f.Body().AppendNewline()
			}
			b := f.Body().AppendNewBlock("variable", []string{name}).Body()
			b.SetAttributeRaw("type", hclwrite.TokensForIdentifier(v.typ))
			b.SetAttributeValue("description", cty.StringVal(v.description))
			if v.def != nil {
				b.SetAttributeValue("default", *v.def)
			}
		}
		r.add("terraform/variables.tf", r.hclFile(f))
	}
	return nil
}

func (r *run) hclFile(f *hclwrite.File) []byte {
	return append([]byte(header("#", r.hash)+"\n"), hclwrite.Format(f.Bytes())...)
}

// tfName makes a Terraform identifier from cairn names.
func tfName(parts ...string) string {
	s := strings.NewReplacer("-", "_", ".", "_").Replace(strings.Join(parts, "_"))
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "d_" + s
	}
	return s
}

func ref(names ...string) hclwrite.Tokens {
	t := hcl.Traversal{hcl.TraverseRoot{Name: names[0]}}
	for _, n := range names[1:] {
		t = append(t, hcl.TraverseAttr{Name: n})
	}
	return hclwrite.TokensForTraversal(t)
}

func indexRef(key string, names ...string) hclwrite.Tokens {
	t := hcl.Traversal{hcl.TraverseRoot{Name: names[0]}}
	for _, n := range names[1:] {
		t = append(t, hcl.TraverseAttr{Name: n})
	}
	t = append(t, hcl.TraverseIndex{Key: cty.StringVal(key)})
	return hclwrite.TokensForTraversal(t)
}

func strMap(m map[string]string) cty.Value {
	vals := map[string]cty.Value{}
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

func (r *run) tfTags(d *compiler.Deployment, version string) cty.Value {
	t := map[string]string{"managed-by": "cairn", "cairn-deployment": d.Name, "cairn-bundle": r.shortHash()}
	if version != "" {
		t["cairn-version"] = version
	}
	if d.Model != "" {
		t["cairn-model"] = d.Model
	}
	return strMap(t)
}

// sagemaker renders a model per served version, an endpoint configuration
// whose production variants carry the canary weights (or a shadow variant),
// the endpoint, and application autoscaling for the stable variant.
func (r *run) sagemaker(body *hclwrite.Body, d *compiler.Deployment, m *compiler.Model, ro rollout, vars map[string]tfVariable) {
	vars["sagemaker_execution_role_arn"] = tfVariable{name: "sagemaker_execution_role_arn", typ: "string", description: "IAM role SageMaker assumes to read model artifacts"}
	it := cty.StringVal("ml.m5.large")
	vars["sagemaker_instance_type"] = tfVariable{name: "sagemaker_instance_type", typ: "string", description: "Instance type of every production variant", def: &it}
	if d.Image == "" {
		vars["sagemaker_images"] = tfVariable{name: "sagemaker_images", typ: "map(string)", description: "Serving image per model format (xgboost, sklearn, …)"}
	}
	versions, aliases := []ModelVersion{ro.Stable}, []string{d.Alias}
	if ro.Candidate != nil {
		versions, aliases = append(versions, *ro.Candidate), append(aliases, d.Rollout.Candidate)
	}
	for i, mv := range versions {
		b := body.AppendNewBlock("resource", []string{"aws_sagemaker_model", tfName(d.Name, mv.Version)}).Body()
		b.SetAttributeValue("name", cty.StringVal(d.Name+"-"+mv.Version))
		b.SetAttributeRaw("execution_role_arn", ref("var", "sagemaker_execution_role_arn"))
		c := b.AppendNewBlock("primary_container", nil).Body()
		if d.Image != "" {
			c.SetAttributeValue("image", cty.StringVal(d.Image))
		} else {
			c.SetAttributeRaw("image", indexRef(mv.format(m), "var", "sagemaker_images"))
		}
		c.SetAttributeValue("model_data_url", cty.StringVal(mv.ArtifactURI))
		// What the container serves, as every target says it (stampEnv).
		c.SetAttributeValue("environment", strMap(map[string]string{"CAIRN_MODEL": m.Name, "CAIRN_MODEL_VERSION": mv.Version,
			"CAIRN_NAME": m.Name, "CAIRN_VERSION": mv.Version, "CAIRN_ALIAS": aliases[i], "CAIRN_DIGEST": mv.Digest}))
		b.SetAttributeValue("tags", r.tfTags(d, mv.Version))
		body.AppendNewline()
	}
	count := 1
	if d.Autoscaling != nil {
		count = max(d.Autoscaling.Min, 1)
	}
	cfg := tfName(d.Name)
	b := body.AppendNewBlock("resource", []string{"aws_sagemaker_endpoint_configuration", cfg}).Body()
	// Endpoint configurations are immutable: a new name per bundle lets
	// create_before_destroy swap them without downtime.
	b.SetAttributeValue("name", cty.StringVal(d.Name+"-"+r.shortHash()))
	variant := func(block string, mv ModelVersion, weight int) {
		v := b.AppendNewBlock(block, nil).Body()
		v.SetAttributeValue("variant_name", cty.StringVal("v"+mv.Version))
		v.SetAttributeRaw("model_name", ref("aws_sagemaker_model", tfName(d.Name, mv.Version), "name"))
		v.SetAttributeValue("initial_instance_count", cty.NumberIntVal(int64(count)))
		v.SetAttributeRaw("instance_type", ref("var", "sagemaker_instance_type"))
		v.SetAttributeValue("initial_variant_weight", cty.NumberIntVal(int64(weight)))
	}
	switch ro.Strategy {
	case "canary":
		variant("production_variants", ro.Stable, 100-ro.Percent)
		variant("production_variants", *ro.Candidate, ro.Percent)
	case "shadow":
		variant("production_variants", ro.Stable, 100)
		variant("shadow_production_variants", *ro.Candidate, 100)
	default:
		variant("production_variants", ro.Stable, 100)
	}
	b.SetAttributeValue("tags", r.tfTags(d, ro.Stable.Version))
	lc := b.AppendNewBlock("lifecycle", nil).Body()
	lc.SetAttributeValue("create_before_destroy", cty.True)
	body.AppendNewline()

	e := body.AppendNewBlock("resource", []string{"aws_sagemaker_endpoint", cfg}).Body()
	e.SetAttributeValue("name", cty.StringVal(d.Name))
	e.SetAttributeRaw("endpoint_config_name", ref("aws_sagemaker_endpoint_configuration", cfg, "name"))
	e.SetAttributeValue("tags", r.tfTags(d, ro.Stable.Version))

	if a := d.Autoscaling; a != nil {
		body.AppendNewline()
		t := body.AppendNewBlock("resource", []string{"aws_appautoscaling_target", cfg}).Body()
		t.SetAttributeValue("service_namespace", cty.StringVal("sagemaker"))
		t.SetAttributeValue("resource_id", cty.StringVal("endpoint/"+d.Name+"/variant/v"+ro.Stable.Version))
		t.SetAttributeValue("scalable_dimension", cty.StringVal("sagemaker:variant:DesiredInstanceCount"))
		t.SetAttributeValue("min_capacity", cty.NumberIntVal(int64(max(a.Min, 1))))
		t.SetAttributeValue("max_capacity", cty.NumberIntVal(int64(a.Max)))
		t.SetAttributeRaw("depends_on", hclwrite.TokensForTuple([]hclwrite.Tokens{ref("aws_sagemaker_endpoint", cfg)}))
		body.AppendNewline()
		p := body.AppendNewBlock("resource", []string{"aws_appautoscaling_policy", cfg}).Body()
		p.SetAttributeValue("name", cty.StringVal(d.Name+"-"+a.Metric))
		p.SetAttributeValue("policy_type", cty.StringVal("TargetTrackingScaling"))
		for _, attr := range []string{"service_namespace", "resource_id", "scalable_dimension"} {
			p.SetAttributeRaw(attr, ref("aws_appautoscaling_target", cfg, attr))
		}
		tt := p.AppendNewBlock("target_tracking_scaling_policy_configuration", nil).Body()
		tt.SetAttributeValue("target_value", cty.NumberFloatVal(a.Target))
		if a.Metric == "cpu" {
			// CPU has no predefined SageMaker target-tracking metric: the
			// variant's CloudWatch CPUUtilization, averaged.
			cm := tt.AppendNewBlock("customized_metric_specification", nil).Body()
			cm.SetAttributeValue("metric_name", cty.StringVal("CPUUtilization"))
			cm.SetAttributeValue("namespace", cty.StringVal("/aws/sagemaker/Endpoints"))
			cm.SetAttributeValue("statistic", cty.StringVal("Average"))
			for _, dim := range []struct{ name, value string }{{"EndpointName", d.Name}, {"VariantName", "v" + ro.Stable.Version}} {
				db := cm.AppendNewBlock("dimensions", nil).Body()
				db.SetAttributeValue("name", cty.StringVal(dim.name))
				db.SetAttributeValue("value", cty.StringVal(dim.value))
			}
		} else {
			// rps and concurrency: SageMaker's predefined invocations metric.
			pm := tt.AppendNewBlock("predefined_metric_specification", nil).Body()
			pm.SetAttributeValue("predefined_metric_type", cty.StringVal("SageMakerVariantInvocationsPerInstance"))
		}
	}
}

// vertexEndpointID is a stable numeric endpoint id (Vertex requires digits, no leading zero).
func vertexEndpointID(project, deployment string) string {
	h := fnv.New32a()
	h.Write([]byte(project + "/" + deployment))
	return strconv.FormatUint(1_000_000_000+uint64(h.Sum32())%8_999_999_999, 10)
}

// vertex renders the endpoint with its traffic split. Deployed model ids are
// assigned by Vertex when the pipeline deploys a registered version, so the
// split is keyed by an operator-supplied map from "<deployment>-<version>".
func (r *run) vertex(body *hclwrite.Body, d *compiler.Deployment, m *compiler.Model, ro rollout, vars map[string]tfVariable) {
	vars["gcp_project"] = tfVariable{name: "gcp_project", typ: "string", description: "Google Cloud project of the Vertex AI endpoints"}
	region := cty.StringVal("us-central1")
	vars["vertex_region"] = tfVariable{name: "vertex_region", typ: "string", description: "Region of the Vertex AI endpoints", def: &region}
	vars["vertex_deployed_model_ids"] = tfVariable{name: "vertex_deployed_model_ids", typ: "map(string)", description: "Vertex deployed model id per \"<deployment>-<version>\""}

	name := tfName(d.Name)
	lb := body.AppendNewBlock("locals", nil).Body()
	versions := map[string]cty.Value{}
	add := func(mv ModelVersion) {
		versions[d.Name+"-"+mv.Version] = cty.ObjectVal(map[string]cty.Value{
			"version": cty.StringVal(mv.Version), "artifact_uri": cty.StringVal(mv.ArtifactURI), "format": cty.StringVal(mv.format(m)),
		})
	}
	add(ro.Stable)
	if ro.Candidate != nil {
		add(*ro.Candidate)
	}
	lb.SetAttributeValue(name+"_versions", cty.ObjectVal(versions))
	body.AppendNewline()

	e := body.AppendNewBlock("resource", []string{"google_vertex_ai_endpoint", name}).Body()
	e.SetAttributeValue("name", cty.StringVal(vertexEndpointID(r.b.Project.Name, d.Name)))
	e.SetAttributeValue("display_name", cty.StringVal(d.Name))
	e.SetAttributeRaw("project", ref("var", "gcp_project"))
	e.SetAttributeRaw("location", ref("var", "vertex_region"))
	e.SetAttributeValue("labels", r.tfTags(d, ro.Stable.Version))
	split := []hclwrite.ObjectAttrTokens{}
	entry := func(mv ModelVersion, pct int) {
		// A parenthesised key makes HCL evaluate it instead of reading a literal name.
		key := hclwrite.Tokens{{Type: hclsyntax.TokenOParen, Bytes: []byte("(")}}
		key = append(key, indexRef(d.Name+"-"+mv.Version, "var", "vertex_deployed_model_ids")...)
		key = append(key, &hclwrite.Token{Type: hclsyntax.TokenCParen, Bytes: []byte(")")})
		split = append(split, hclwrite.ObjectAttrTokens{Name: key, Value: hclwrite.TokensForValue(cty.NumberIntVal(int64(pct)))})
	}
	switch ro.Strategy {
	case "canary":
		entry(ro.Stable, 100-ro.Percent)
		entry(*ro.Candidate, ro.Percent)
	case "shadow":
		// Vertex has no mirroring: the candidate is deployed and receives 0%.
		entry(ro.Stable, 100)
		entry(*ro.Candidate, 0)
	default:
		entry(ro.Stable, 100)
	}
	e.SetAttributeRaw("traffic_split", hclwrite.TokensForFunctionCall("jsonencode", hclwrite.TokensForObject(split)))
}
