#!/usr/bin/env bash
# make bench-peers: cairn measured against the tools it replaces, in one run
# on this machine, on the generated large repo of `make bench` (1,000 models,
# 2,000 prompts, 500 evals, 500 deployments, 300 features):
#   - `cairn check` (schema, references, every built-in policy) against
#     `cue vet -c` with cairn's schema plus `opa eval` of the same policies on
#     the compiled bundle (cue and opa installed with go install at the
#     versions in go.mod);
#   - `cairn check` again after one spec file changed (the check cache);
#   - `cairn vet` at 10,000 models.
# Wall time and peak RSS come from /usr/bin/time; each figure is the best of
# three runs. promptfoo is not measured here (see the README).
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
	sed 's/cairn\.match_strings(input\.bundle, any_secret)/[[q, t] | walk(input.bundle, [q, t]); is_string(t); regex.match(any_secret, t)]/' "$f" >"$work/rego/$(basename "$f")"
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
unset CAIRN_CACHE_DIR

cd "$work/repo10k"
CAIRN_CACHE_DIR=off best "$cairn" vet .
read -r vet10k_s vet10k_m <"$work/best"

peers_s=$(awk "BEGIN{printf \"%.2f\", $cue_s + $opa_s}")
peers_m=$((cue_m > opa_m ? cue_m : opa_m))
echo
echo "| work | cairn | peers in the same run | ratio |"
echo "|---|---|---|---|"
printf '| check, large repo (no cache) | %s s, %s MiB | cue vet -c %s s (%s MiB) + opa eval %s s (%s MiB) = %s s | %s × |\n' \
	"$check_s" "$check_m" "$cue_s" "$cue_m" "$opa_s" "$opa_m" "$peers_s" "$(awk "BEGIN{printf \"%.2f\", $check_s / $peers_s}")"
printf '| check after editing one model (cache warm) | %s s, %s MiB | — | %s × a full check |\n' \
	"$inc_best" "$inc_m" "$(awk "BEGIN{printf \"%.2f\", $inc_best / $check_s}")"
printf '| vet, 10,000 models (no cache) | %s s, %s MiB | — | — |\n' "$vet10k_s" "$vet10k_m"
