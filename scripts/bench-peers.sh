#!/usr/bin/env bash
# make bench-peers: cairn measured against the tools it replaces, in one run
# on this machine, on the generated large repo of `make bench` (1,000 models,
# 2,000 prompts, 500 evals, 500 deployments, 300 features):
#   - `cairn check` (schema, references, every built-in policy) against
#     `cue vet -c` with cairn's schema plus `opa eval` of the same policies on
#     the compiled bundle (cue and opa installed with go install at the
#     versions in go.mod);
#   - `cairn check` again after one spec file changed (the check cache): a
#     value edited in place, then a line added above the file's objects;
#   - `cairn vet` at 10,000 models;
#   - `cairn eval` of 400 cases against promptfoo (installed with npm at a
#     pinned version), on the same loopback server, without and with faults.
# Wall time and peak RSS come from /usr/bin/time; each figure is the best of
# three runs; the eval rows (cairn eval against promptfoo) one run each.
set -euo pipefail
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gobin=$($GO env GOPATH)/bin

cue_version=$($GO list -m -f '{{.Version}}' cuelang.org/go)
opa_version=$($GO list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
if ! "$gobin/cue" version 2>/dev/null | grep -q "${cue_version#v}"; then
	echo "installing cue $cue_version"
	GOFLAGS= $GO install "cuelang.org/go/cmd/cue@$cue_version"
fi
if ! "$gobin/opa" version 2>/dev/null | grep -q "${opa_version#v}"; then
	echo "installing opa $opa_version"
	GOFLAGS= $GO install "github.com/open-policy-agent/opa@$opa_version"
fi
$GO build -o "$work/cairn" ./cmd/cairn
$GO run ./cmd/specgen "$work/repo"
$GO run ./cmd/specgen -models 10000 "$work/repo10k"
cairn=$work/cairn

# best CMD...: the best wall time (s) and the peak RSS (MiB) of that run, of
# three. A peer that fails is not timed: the script stops (cairn check exits 1
# on the generated repo's denials, which is its answer, not a failure).
best() {
	local bs="" bm="" rc
	for _ in 1 2 3; do
		rc=0
		/usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || rc=$?
		if [ "$rc" -gt 1 ] || { [ "$rc" = 1 ] && [ "$(basename "$1")" != cairn ]; }; then
			echo "bench-peers: $* failed (exit $rc):" >&2
			head -5 "$work/err" >&2
			exit 1
		fi
		read -r s kb < <(tail -n 1 "$work/t")
		if [ -z "$bs" ] || awk "BEGIN{exit !($s < $bs)}"; then bs=$s bm=$((kb / 1024)); fi
	done
	echo "$bs $bm" >"$work/best"
}

# The peers' inputs: cairn's schema as a CUE package, the built-in policies
# as files (no_secrets' cairn.match_strings is cairn's native walk + regex;
# for opa it is the same walk written in Rego), the bundle as opa's input.
"$cairn" schema --package bench --out "$work/schema" >/dev/null
mkdir -p "$work/rego"
for f in policies/lib/*.rego; do
	case $f in *_test.rego) continue ;; esac
	sed 's/cairn\.match_strings(\([a-z.]*\), any_secret)/[[q, t] | walk(\1, [q, t]); is_string(t); regex.match(any_secret, t)]/' "$f" >"$work/rego/$(basename "$f")"
done
printf '{"cairn":{"catalog":{"deprecations":' >"$work/data.json"
cat policies/lib/deprecations.json >>"$work/data.json"
printf '}}}' >>"$work/data.json"
(cd "$work/repo" && CAIRN_CACHE_DIR=off "$cairn" compile -o "$work/bundle.json")
{ printf '{"now":"2026-12-01T00:00:00Z","context":{},"bundle":'; cat "$work/bundle.json"; printf '}'; } >"$work/input.json"

cd "$work/repo"
CAIRN_CACHE_DIR=off best "$cairn" check .
read -r check_s check_m <"$work/best"
best "$gobin/cue" vet -c "$work/schema/schema.cue" ./*.cue specs/*.cue
read -r cue_s cue_m <"$work/best"
best "$gobin/opa" eval --format raw -d "$work/rego" -d "$work/data.json" -i "$work/input.json" 'data.cairn.policy'
read -r opa_s opa_m <"$work/best"

# The pull-request loop: a warm cache, then one model's owner changes.
export CAIRN_CACHE_DIR=$work/cache
"$cairn" check . >/dev/null 2>&1 || true
edits=0
inc_best=""
inc_m=""
for _ in 1 2 3; do
	edits=$((edits + 1))
	sed -i "0,/@acme\/team-\|@acme\/edit[0-9]*-/s//@acme\/edit${edits}-/" specs/models-003.cue
	/usr/bin/time -f "%e %M" -o "$work/t" "$cairn" check . >/dev/null 2>&1 || true
	read -r s kb < <(tail -n 1 "$work/t")
	if [ -z "$inc_best" ] || awk "BEGIN{exit !($s < $inc_best)}"; then inc_best=$s inc_m=$((kb / 1024)); fi
done
# The same file edited as people edit: a line added near its top, which
# moves every object below it.
line_best=""
line_m=""
for i in 1 2 3; do
	sed -i "2i // note $i" specs/models-003.cue
	/usr/bin/time -f "%e %M" -o "$work/t" "$cairn" check . >/dev/null 2>&1 || true
	read -r s kb < <(tail -n 1 "$work/t")
	if [ -z "$line_best" ] || awk "BEGIN{exit !($s < $line_best)}"; then line_best=$s line_m=$((kb / 1024)); fi
done
unset CAIRN_CACHE_DIR

cd "$work/repo10k"
CAIRN_CACHE_DIR=off best "$cairn" vet .
read -r vet10k_s vet10k_m <"$work/best"

# Evals: 400 cases against the loopback OpenAI-compatible server of the
# Go benchmarks (cmd/evalserver: 100 ms latency), at 16 in flight, without
# and with faults (a 429 with Retry-After 0.5 s on every 5th request, a 500
# on every 13th): cairn eval against promptfoo, one run each. promptfoo is
# installed with npm at its pinned version into the user cache (skipped,
# and said so, when npm is missing or the install fails).
promptfoo_version=0.118.0
pfdir=${XDG_CACHE_HOME:-$HOME/.cache}/cairn-bench/promptfoo-$promptfoo_version
promptfoo=""
if [ -x "$pfdir/node_modules/.bin/promptfoo" ]; then
	promptfoo=$pfdir/node_modules/.bin/promptfoo
elif command -v npm >/dev/null 2>&1; then
	echo "installing promptfoo $promptfoo_version (npm)"
	mkdir -p "$pfdir"
	if (cd "$pfdir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error "promptfoo@$promptfoo_version" >"$work/npm.log" 2>&1); then
		promptfoo=$pfdir/node_modules/.bin/promptfoo
	else
		echo "bench-peers: npm install promptfoo@$promptfoo_version failed; the eval rows have no peer:" >&2
		tail -3 "$work/npm.log" >&2
	fi
fi
(cd "$root" && $GO build -o "$work/evalserver" ./cmd/evalserver)
mkdir -p "$work/ev/evals" "$work/pf"
for i in $(seq 0 399); do printf '{"id": "c%04d", "vars": {"question": "q%d"}, "reference": "answer: q%d"}\n' "$i" "$i" "$i"; done >"$work/ev/evals/qa.jsonl"
{ echo "question,__expected"; for i in $(seq 0 399); do echo "q$i,equals:answer: q$i"; done; } >"$work/pf/tests.csv"
# errors first|last FILE: the first or last "errors": N of a JSON report
# (cairn's run; promptfoo's stats come last).
errors() {
	awk -v which="$1" 'match($0, /"errors": *[0-9]+/) { n = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", n); if (which == "first") { print n; exit } last = n } END { if (which == "last") print last }' "$2"
}
# evalrun NAME SERVER-FLAGS...: times cairn eval, then promptfoo, against a
# fresh server each; writes "cairn_s cairn_m cairn_lost pf_s pf_m pf_lost".
evalrun() {
	local name=$1 url out
	shift
	"$work/evalserver" "$@" >"$work/es.url" 2>/dev/null &
	local pid=$!
	for _ in $(seq 50); do [ -s "$work/es.url" ] && break; sleep 0.1; done
	url=$(head -1 "$work/es.url")
	cat >"$work/ev/cairn.cue" <<CUE
package bench

project: {name: "bench-evals", owners: ["@acme/ml"]}
providers: local: {kind: "openai-compatible", base_url: "$url", api_key_env: "BENCH_KEY"}
prompts: qa: {owner: "team:ml", version: "1.0.0", template: "{{ question }}", inputs: ["question"], model: {provider: "local", id: "gpt-4o-mini", max_tokens: 64}}
evals: qa: {target: prompt: "qa", dataset: "evals/qa.jsonl", metrics: exact: {scorer: "exact", threshold: 1, aggregate: "mean"}}
CUE
	BENCH_KEY=sk-test /usr/bin/time -f "%e %M" -o "$work/t" "$cairn" eval "$work/ev" --no-state --parallel 16 --format json >"$work/ev.json" 2>/dev/null || true
	read -r cs ckb < <(tail -n 1 "$work/t")
	local clost
	clost=$(errors first "$work/ev.json")
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	local ps="—" pm="—" plost="—"
	if [ -n "$promptfoo" ]; then
		: >"$work/es.url"
		"$work/evalserver" "$@" >"$work/es.url" 2>/dev/null &
		pid=$!
		for _ in $(seq 50); do [ -s "$work/es.url" ] && break; sleep 0.1; done
		url=$(head -1 "$work/es.url")
		cat >"$work/pf/promptfooconfig.yaml" <<YAML
description: cairn bench-peers
prompts:
  - "{{question}}"
providers:
  - id: openai:chat:gpt-4o-mini
    config: {apiBaseUrl: "$url", apiKey: sk-test, max_tokens: 64}
tests: file://tests.csv
YAML
		(cd "$work/pf" && HOME="$work/pf" PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 \
			/usr/bin/time -f "%e %M" -o "$work/t" "$promptfoo" eval -c promptfooconfig.yaml --max-concurrency 16 --no-cache --no-write --no-progress-bar -o out.json >/dev/null 2>&1) || true
		read -r ps pkb < <(tail -n 1 "$work/t")
		pm=$((pkb / 1024))
		plost=$(errors last "$work/pf/out.json")
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	fi
	echo "$cs $((ckb / 1024)) ${clost:-?} $ps $pm ${plost:-?}" >"$work/$name"
}
evalrun evals
evalrun faults -throttle-every 5 -fail-every 13
read -r ev_s ev_m ev_lost pf_s pf_m pf_lost <"$work/evals"
read -r fa_s fa_m fa_lost pff_s pff_m pff_lost <"$work/faults"

peers_s=$(awk "BEGIN{printf \"%.2f\", $cue_s + $opa_s}")
peers_m=$((cue_m > opa_m ? cue_m : opa_m))
echo
echo "| work | cairn | peers in the same run | ratio |"
echo "|---|---|---|---|"
printf '| check, large repo (no cache) | %s s, %s MiB | cue vet -c %s s (%s MiB) + opa eval %s s (%s MiB) = %s s | %s × |\n' \
	"$check_s" "$check_m" "$cue_s" "$cue_m" "$opa_s" "$opa_m" "$peers_s" "$(awk "BEGIN{printf \"%.2f\", $check_s / $peers_s}")"
printf '| check after editing one model (cache warm) | %s s, %s MiB | — | %s × a full check |\n' \
	"$inc_best" "$inc_m" "$(awk "BEGIN{printf \"%.2f\", $inc_best / $check_s}")"
printf '| the same file, a line added above its models (cache warm) | %s s, %s MiB | — | %s × a full check |\n' \
	"$line_best" "$line_m" "$(awk "BEGIN{printf \"%.2f\", $line_best / $check_s}")"
printf '| vet, 10,000 models (no cache) | %s s, %s MiB | — | — |\n' "$vet10k_s" "$vet10k_m"
rate() { awk "BEGIN{printf \"%.0f\", 400 / $1}"; }
if [ "$pf_s" != "—" ]; then
	printf '| eval, 400 cases, 100 ms latency, 16 in flight | %s s (%s cases/s), %s MiB RSS, %s lost | promptfoo %s: %s s (%s cases/s), %s MiB, %s lost | %s × promptfoo'"'"'s rate |\n' \
		"$ev_s" "$(rate "$ev_s")" "$ev_m" "$ev_lost" "$promptfoo_version" "$pf_s" "$(rate "$pf_s")" "$pf_m" "$pf_lost" "$(awk "BEGIN{printf \"%.2f\", $pf_s / $ev_s}")"
	printf '| the same, a 429 (Retry-After 0.5 s) every 5th request, a 500 every 13th | %s s, %s MiB, %s lost | promptfoo: %s s, %s MiB, %s lost (it does not wait out Retry-After) | — |\n' \
		"$fa_s" "$fa_m" "$fa_lost" "$pff_s" "$pff_m" "$pff_lost"
else
	printf '| eval, 400 cases, 100 ms latency, 16 in flight | %s s (%s cases/s), %s MiB RSS, %s lost | promptfoo not installed | — |\n' "$ev_s" "$(rate "$ev_s")" "$ev_m" "$ev_lost"
	printf '| the same with faults | %s s, %s MiB, %s lost | promptfoo not installed | — |\n' "$fa_s" "$fa_m" "$fa_lost"
fi
