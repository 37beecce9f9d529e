# METADATA
# title: Helpers shared by the built-in policies
# description: Not a policy (no deny or warn rules); team policies may import it too.
package cairn.util

day_ns := 86400000000000

# now_ns is input.now (RFC 3339) in nanoseconds; runs are reproducible because now is an input.
now_ns := time.parse_rfc3339_ns(input.now)

# today_ns is the start (00:00 UTC) of now's day.
today_ns := now_ns - (now_ns % day_ns)

# date_ns parses "YYYY-MM-DD" as 00:00 UTC of that day; undefined when malformed.
date_ns(s) := time.parse_ns("2006-01-02", s) if regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, s)

# target names an object the way diagnostics do: "models/fraud-detector".
target(kind, name) := concat("/", [kind, name])

# path_string renders a walk path ["sources", 0, "license"] as "sources[0].license".
path_string(p) := concat("", [seg |
	some i, e in p
	seg := _segment(i, e)
])

_segment(_, e) := sprintf("[%v]", [e]) if is_number(e)

_segment(0, e) := e if is_string(e)

_segment(i, e) := concat("", [".", e]) if {
	is_string(e)
	i > 0
}

# is_llm says whether a deployment serves an LLM (a prompt, or a model of kind llm). The
# compiler derives every deployment's kind, so this reads the deployment alone: a policy that
# calls it re-runs after a model edit only when a deployment's kind changed with it.
is_llm(d) if d.kind == "llm"

# placeholder is true for values that only pretend to fill a field.
placeholder(s) if trim_space(s) == ""

placeholder(s) if lower(trim_space(s)) in {"unknown", "tbd", "todo", "none", "n/a", "na", "noassertion", "changeme", "-"}

# usd renders an amount with two decimals ("100.00"); sprintf's %.2f rejects integers.
usd(x) := sprintf("%d.%02d", [floor(cents / 100), cents % 100]) if cents := round(x * 100)

# collection(kind) is input.bundle[kind] for the kinds that hold named objects,
# each written out: cairn reads off a policy's syntax which parts of the input
# it depends on (its result cache), and a variable key would mean all of them.
collection("providers") := input.bundle.providers

collection("features") := input.bundle.features

collection("models") := input.bundle.models

collection("prompts") := input.bundle.prompts

collection("rag") := input.bundle.rag

collection("evals") := input.bundle.evals

collection("slos") := input.bundle.slos

collection("deployments") := input.bundle.deployments
