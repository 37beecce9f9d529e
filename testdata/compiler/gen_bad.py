# Writes the bad-spec catalog: one txtar archive per case, each a complete
# spec repo with one mistake. The expected code and position are filled in
# by hand below and asserted by compiler/bad_test.go.
import os
BASE = {
"cairn.cue": '''package app

project: {name: "app", owners: ["@acme/ml"]}
''',
"specs/llm.cue": '''package app

providers: main: {kind: "openai"}

prompts: answer: {
	owner:   "@acme/ml"
	version: "1.0.0"
	template_file: "prompts/answer.tmpl"
	inputs: ["question"]
	model: {provider: "main", id: "gpt-4o-mini"}
	labels: prod: "1.0.0"
	gates: prod: evals: ["answer-quality"]
}

evals: "answer-quality": {
	target: prompt: "answer"
	dataset: "evals/answer.jsonl"
	metrics: f: {scorer: "factuality", threshold: 0.7}
}

deployments: bot: {
	prompt:    "answer"
	target:    "kubernetes"
	namespace: "apps"
}

slos: "bot-avail": {
	deployment: "bot"
	objective:  99.9
	sli: {kind: "availability", errors: "e", total: "t"}
}
''',
"specs/classic.cue": '''package app

features: amount: {owner: "@acme/ml", entity: "txn", source: "db.t", dtype: "float"}

models: scorer: {
	kind:        "classic"
	owner:       "@acme/ml"
	description: "A scorer"
	features: ["amount"]
	aliases: prod: "3"
	gates: prod: metrics: auc: ">= 0.9"
}
''',
"prompts/answer.tmpl": "Answer briefly: {{ question }}\n",
"evals/answer.jsonl": '{"id": "a", "vars": {"question": "q?"}, "reference": "r", "output": "o"}\n',
}

def case(name, want, edits=None, add=None, drop=()):
    files = dict(BASE)
    for f, e in (edits or {}).items():
        for old, new in (e if isinstance(e, list) else [e]):
            assert old in files[f], (name, old)
            files[f] = files[f].replace(old, new, 1)
    for f in drop:
        del files[f]
    files.update(add or {})
    with open(f"bad/{name}.txtar", "w") as out:
        out.write(f"want {want}\n")
        for f in sorted(files):
            out.write(f"-- {f} --\n{files[f]}")
            if not files[f].endswith("\n"):
                out.write("\n")

L = "specs/llm.cue"
C = "specs/classic.cue"
case("syntax", "E010 specs/classic.cue:12:3", {C: ("models: scorer: {", "models: scorer: {{")})
case("syntax-string", "E010 specs/classic.cue:6:15", {C: ('kind:        "classic"', 'kind:        "classic')})
case("wrong-type", "E030 specs/llm.cue:29:14", {L: ("objective:  99.9", 'objective:  "high"')})
case("out-of-bound", "E030 specs/llm.cue:29:14", {L: ("objective:  99.9", "objective:  140")})
case("unknown-field", "E032 specs/classic.cue:9:2", {C: ('	description: "A scorer"', '	description: "A scorer"\n	framwork: "xgboost"')})
case("missing-field", "E031 specs/classic.cue:5:9", {C: ('	owner:       "@acme/ml"\n', '')})
case("enum", "E030 specs/classic.cue:6:15", {C: ('kind:        "classic"', 'kind:        "deep"')})
case("name-pattern", "E030 specs/classic.cue:5:9", {C: ("models: scorer: {", "models: Scorer_X: {")})
case("owner-pattern", "E030 specs/classic.cue:7:15", {C: ('owner:       "@acme/ml"', 'owner:       "Jane Doe"')})
case("semver", "E030 specs/llm.cue:7:11", {L: ('version: "1.0.0"', 'version: "v1"')})
case("list-type", "E030 cairn.cue:3:32", {"cairn.cue": ('owners: ["@acme/ml"]', 'owners: "@acme/ml"')})
case("unknown-feature", "E040 specs/classic.cue:9:13", {C: ('features: ["amount"]', 'features: ["amuont"]')})
case("unknown-provider", "E040 specs/llm.cue:10:10", {L: ('model: {provider: "main"', 'model: {provider: "mian"')})
case("unknown-eval-target", "E040 specs/llm.cue:16:10", {L: ('target: prompt: "answer"', 'target: prompt: "answr"')})
case("unknown-slo-deployment", "E040 specs/llm.cue:28:2", {L: ('deployment: "bot"', 'deployment: "bto"')})
case("unknown-gate-eval", "E040 specs/llm.cue:12:23", {L: ('gates: prod: evals: ["answer-quality"]', 'gates: prod: evals: ["answer-qualty"]')})
case("gate-wrong-target", "E041 specs/classic.cue:11:23", {C: ('gates: prod: metrics: auc: ">= 0.9"', 'gates: prod: evals: ["answer-quality"]')})
case("duplicate-object", "E020 specs/classic.cue:3:11", add={"specs/more.cue": 'package app\n\nfeatures: amount: {owner: "@acme/ml", entity: "txn", source: "db.t", dtype: "float"}\n'})
case("var-not-input", "E052 prompts/answer.tmpl:1:32", add={"prompts/answer.tmpl": "Answer briefly: {{ question }} {{ tone }}\n"})
case("input-not-used", "E053 specs/llm.cue:9:23", {L: ('inputs: ["question"]', 'inputs: ["question", "tone"]')})
case("template-syntax", "E051 prompts/answer.tmpl:2:1", add={"prompts/answer.tmpl": "Answer briefly: {{ question }}\n{{ tone\n"})
case("template-missing", "E060 specs/llm.cue:8:2", {L: ('template_file: "prompts/answer.tmpl"', 'template_file: "prompts/missing.tmpl"')})
case("template-dotdot", "E061 specs/llm.cue:8:2", {L: ('template_file: "prompts/answer.tmpl"', 'template_file: "../outside.tmpl"')})
case("template-absolute", "E030 specs/llm.cue:8:17", {L: ('template_file: "prompts/answer.tmpl"', 'template_file: "/etc/passwd"')})
case("no-template", "E050 specs/llm.cue:5:10", {L: ('	template_file: "prompts/answer.tmpl"\n', '')})
case("two-templates", "E050 specs/llm.cue:5:10", {L: ('	template_file: "prompts/answer.tmpl"\n', '	template_file: "prompts/answer.tmpl"\n	template: "x {{ question }}"\n')})
case("dataset-json", "E070 evals/answer.jsonl:2:1", add={"evals/answer.jsonl": '{"id": "a", "vars": {"question": "q?"}}\n{"id": "b", \n'})
case("dataset-no-id", "E070 evals/answer.jsonl:1:1", add={"evals/answer.jsonl": '{"vars": {"question": "q?"}}\n'})
case("dataset-dup-id", "E070 evals/answer.jsonl:2:1", add={"evals/answer.jsonl": '{"id": "a", "vars": {"question": "q?"}}\n{"id": "a", "vars": {"question": "q?"}}\n'})
case("dataset-missing-var", "E071 evals/answer.jsonl:1:1", add={"evals/answer.jsonl": '{"id": "a", "vars": {"q": "q?"}}\n'})
case("dataset-empty", "E070 specs/llm.cue:17:2", add={"evals/answer.jsonl": '\n'})
case("bad-regex", "E072 specs/llm.cue:18:32", {L: ('metrics: f: {scorer: "factuality", threshold: 0.7}', 'metrics: f: {scorer: "regex", pattern: "(unclosed", threshold: 0.7}')})
case("deploy-both", "E080 specs/llm.cue:21:14", {L: ('	prompt:    "answer"\n', '	prompt:    "answer"\n	model: "scorer"\n')})
case("deploy-alias", "E081 specs/llm.cue:25:2", {L: ('	namespace: "apps"\n', '	namespace: "apps"\n	alias: "canary"\n')})
case("canary-incomplete", "E082 specs/llm.cue:25:2", {L: ('	namespace: "apps"\n', '	namespace: "apps"\n	rollout: {strategy: "canary", candidate: "prod"}\n')})
case("batch-schedule", "E083 specs/llm.cue:23:2", {L: ('target:    "kubernetes"', 'target:    "batch"')})
case("rag-glob-empty", "E090 specs/llm.cue:16:2", {L: ('	gates: prod: evals: ["answer-quality"]\n}', '	gates: prod: evals: ["answer-quality"]\n}\n\nrag: kb: {owner: "@acme/ml", sources: [{\n\tpath: "docs/*.md", license: "CC-BY-4.0", classification: "public"}]}')})
case("provider-base-url", "E095 specs/llm.cue:3:19", {L: ('providers: main: {kind: "openai"}', 'providers: main: {kind: "openai-compatible"}')})
case("package-mismatch", "E011 specs/classic.cue:1:1", {C: ("package app", "package other")})
case("import", "E013 specs/classic.cue:3:8", {C: ("package app\n", 'package app\n\nimport "strings"\n')})
case("label-ahead", "E054 specs/llm.cue:11:10", {L: ('labels: prod: "1.0.0"', 'labels: prod: "1.1.0"')})
case("drift-feature", "E040 specs/classic.cue:10:33", {C: ('	aliases: prod: "3"', '	monitoring: drift: {features: ["age"], method: "psi", threshold: 0.2}\n	aliases: prod: "3"')})
case("user-conflict", "E012 cairn.cue:3:17", add={"specs/more.cue": 'package app\n\nproject: name: "other"\n'})
case("no-price", "E096 specs/llm.cue:25:2", {L: [('id: "gpt-4o-mini"', 'id: "acme-llm-7b"'), ('	namespace: "apps"\n', '	namespace: "apps"\n	traffic: requests_per_day: 1000\n')]})
case("eval-two-targets", "E080 specs/llm.cue:16:2", {L: ('target: prompt: "answer"', 'target: {prompt: "answer", model: "scorer"}')})
case("sli-incomplete", "E030 specs/llm.cue:30:2", {L: ('sli: {kind: "availability", errors: "e", total: "t"}', 'sli: {kind: "latency", errors: "e", total: "t"}')})
case("dataset-trailing", "E070 evals/answer.jsonl:1:40", add={"evals/answer.jsonl": '{"id": "a", "vars": {"question": "q?"}}{"id": "b", "vars": {"question": "q?"}}\n'})
case("key-in-api-key-env", "E030 specs/llm.cue:3:48", {L: ('providers: main: {kind: "openai"}', 'providers: main: {kind: "openai", api_key_env: "sk-proj-AbCdEf1234567890AbCdEf1234567890"}')})
case("sli-query", "E085 specs/llm.cue:30:30", {L: ('errors: "e"', 'errors: "sum(errors_total)"')})
case("prompt-on-sagemaker", "E086 specs/llm.cue:23:2", {L: ('target:    "kubernetes"', 'target:    "sagemaker"')})
case("batch-canary", "E086 specs/llm.cue:26:12", {L: [('target:    "kubernetes"', 'target:    "batch"'), ('	namespace: "apps"\n', '	namespace: "apps"\n	schedule: "0 3 * * *"\n	rollout: {strategy: "canary", candidate: "prod", traffic_percent: 10}\n')]})
case("latency-metric", "E085 specs/llm.cue:30:25", {L: ('sli: {kind: "availability", errors: "e", total: "t"}', 'sli: {kind: "latency", metric: "histogram_quantile(0.9, x)", threshold_ms: 200}')})
case("empty-repo", "E002 -", drop=list(BASE))
