#!/usr/bin/env bash
# demo.sh CAIRN_BINARY — runs both example spec repos end to end, offline, each
# with a fresh SQLite state in a temp dir:
#   compile → check → plan → apply → (fraud: the canary starts on the next
#   apply, after the first revision) → apply again (nothing to do) →
#   audit verify → audit report (markdown).
# Builds nothing: `make demo` passes the binary it built.
set -euo pipefail

if [[ $# -ne 1 || ! -x "$1" ]]; then
	echo "usage: $0 /path/to/cairn   (an executable cairn binary)" >&2
	exit 3
fi
cairn=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
examples=$here/../examples
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A fixed report time and actor keep the printed report reproducible.
now=${CAIRN_DEMO_NOW:-2026-03-01T00:00:00Z}
export CAIRN_ACTOR=${CAIRN_ACTOR:-demo}
unset CAIRN_STATE

step() { printf '\n==> %s\n' "$*"; }

# converged fails the demo unless the second apply did nothing.
converged() {
	local out
	out=$("$cairn" apply --approvals 1 --state "$1" "$2")
	echo "$out"
	if [[ $out != *"Apply complete: 0 applied, 0 blocked."* ]]; then
		echo "demo: the second apply was not a no-op" >&2
		return 1
	fi
}

run_example() {
	local name=$1 repo=$work/$1 state=$work/$1.state.db
	cp -R "$examples/$name" "$repo"
	printf '\n######## %s ########\n' "$name"

	step "$name: compile"
	"$cairn" compile "$repo" >"$work/$name.bundle.json"
	echo "bundle: $(wc -c <"$work/$name.bundle.json") bytes of canonical JSON"

	step "$name: check"
	"$cairn" check "$repo"

	if [[ $name == fraud-detection ]]; then
		# What a training pipeline does: register the served and canary versions.
		step "$name: registry register (training pipeline)"
		"$cairn" registry register fraud-detector --state "$state" --version 7 --artifact s3://models/fraud/7 \
			--metric auc=0.94 --metric false_positive_rate=0.03 --features txn-amount,merchant-category --commit 7f3a9c1
		"$cairn" registry register fraud-detector --state "$state" --version 8 --artifact s3://models/fraud/8 \
			--metric auc=0.95 --metric false_positive_rate=0.03 --features txn-amount,merchant-category --commit 8e21b40
		# A high-risk model in a sensitive domain (credit) takes production
		# traffic, stable or canary, only with a global explanation attached.
		step "$name: registry attach (SHAP importances, once per version)"
		"$cairn" registry attach fraud-detector 7 --state "$state" --explanation "$repo/explanations/fraud-7.json"
		"$cairn" registry attach fraud-detector 8 --state "$state" --explanation "$repo/explanations/fraud-8.json"
	fi

	step "$name: plan (with 1 approval)"
	"$cairn" plan --approvals 1 --state "$state" "$repo"

	step "$name: apply"
	"$cairn" apply --approvals 1 --state "$state" "$repo"

	if [[ $name == fraud-detection ]]; then
		# KServe gives a new InferenceService's first revision all traffic, so
		# the first apply rendered the stable version alone; the canary starts now.
		step "$name: apply again (the canary starts once the stable revision exists)"
		"$cairn" apply --approvals 1 --state "$state" "$repo"
	fi

	step "$name: apply again (nothing to do)"
	converged "$state" "$repo"

	step "$name: audit verify"
	"$cairn" audit verify --state "$state" "$repo"

	if [[ $name == fraud-detection ]]; then
		step "$name: lineage (what fraud-api serves now, and version 7's upstream and downstream)"
		"$cairn" lineage --state "$state" "$repo" --deployment fraud-api --at now
		"$cairn" lineage fraud-detector@7 --state "$state" "$repo"
	fi

	step "$name: audit report (markdown)"
	"$cairn" audit report --state "$state" --now "$now" "$repo"

	if [[ $name == fraud-detection ]]; then
		# Classic ML in operation: this month's sample fails a quality rule and has drifted.
		step "$name: data validate (current sample; fails on purpose)"
		"$cairn" data validate "$repo" --feature-set fraud-detector --data "$repo/data/current.parquet" --state "$state" || true

		step "$name: drift (reference vs current; drifts on purpose)"
		"$cairn" drift "$repo" --model fraud-detector --reference "$repo/data/reference.parquet" \
			--current "$repo/data/current.parquet" --state "$state" || true

		step "$name: plan (the drift evidence triggers retraining)"
		"$cairn" plan --approvals 1 --state "$state" "$repo"

		step "$name: apply (renders the training Job, once per piece of evidence)"
		"$cairn" apply --approvals 1 --state "$state" "$repo"
		converged "$state" "$repo"

		# Classic evaluation from predictions: quality with intervals, per
		# slice, and fairness across regions, for each version the aliases name.
		step "$name: eval fraud-fairness (computed from versions 7 and 8's predictions)"
		"$cairn" eval "$repo" fraud-fairness --state "$state"

		step "$name: a fairness gate holds a promotion (staging 8 → 9, unfair to one region; exit 4 on purpose)"
		"$cairn" registry register fraud-detector --state "$state" --version 9 --artifact s3://models/fraud/9 \
			--metric auc=0.96 --metric false_positive_rate=0.03 --commit 9a0c1d2
		sed -i 's/staging: "8"/staging: "9"/' "$repo/specs/models.cue"
		rc=0
		"$cairn" apply --approvals 1 --state "$state" "$repo" || rc=$?
		if [[ $rc -ne 4 ]]; then
			echo "demo: the fairness gate did not hold the staging move (exit $rc, want 4)" >&2
			return 1
		fi

		step "$name: plan (version 9's registered auc disagrees with the computed one: a warning)"
		"$cairn" plan --approvals 1 --state "$state" "$repo" || true
	fi
}

# credit_example runs the credit-scoring example, a high-risk AI system
# under the EU AI Act, and writes its compliance report. The specs (gates,
# thresholds) are applied before version 3 is trained, so its thresholds
# are prior-defined (Art 9(8)); the documents are committed after the
# version is registered, so they are current.
credit_example() {
	local name=credit-scoring repo=$work/credit-scoring state=$work/credit-scoring.state.db rc
	cp -R "$examples/$name" "$repo"
	printf '\n######## %s ########\n' "$name"
	git_() { git -C "$repo" -c user.name=demo -c user.email=demo@acme.example -c commit.gpgsign=false "$@"; }
	if command -v git >/dev/null; then
		git_ init -q && git_ add -A && git_ commit -qm "credit-scoring: specs, gates and documents"
	fi

	step "$name: check (the EU AI Act policies: purpose, oversight, fairness, monitoring, FRIA)"
	"$cairn" check "$repo"

	step "$name: apply the gates before training (version 3 is not registered yet: held, exit 4 on purpose)"
	rc=0
	"$cairn" apply --approvals 1 --state "$state" "$repo" >/dev/null || rc=$?
	if [[ $rc -ne 4 ]]; then
		echo "demo: the first credit apply should hold the move to an unregistered version (exit $rc, want 4)" >&2
		return 1
	fi

	step "$name: registry register (the training pipeline: parameters, data by digest, code)"
	"$cairn" registry register credit-scorer --state "$state" --version 3 --artifact s3://acme-credit/models/credit-scorer/3 \
		--metric auc=0.81 --features income-monthly,debt-to-income,employment-years,missed-payments-24m \
		--param max_depth=6 --param learning_rate=0.05 --training-cost-usd 41.20 \
		--data s3://acme-credit/applications-2026-q2.parquet@sha256:5b1e0d0c4c3f7a2e9d8b6a5f4e3d2c1b0a9f8e7d6c5b4a3928170605f4e3d2c1 \
		--repo-url https://github.com/acme/credit-model --commit 3c1d9e2
	"$cairn" registry attach credit-scorer 3 --state "$state" --explanation "$repo/explanations/credit-3.json"
	"$cairn" data validate "$repo" --feature-set credit-scorer --data "$repo/data/sample.csv" --state "$state" >"$work/validate.txt"
	head -1 "$work/validate.txt"
	if command -v git >/dev/null; then
		# The risk lead reviews the documents against version 3.
		for f in instructions-for-use fria post-market-plan; do
			printf '\nReviewed against credit-scorer version 3.\n' >>"$repo/compliance/$f.md"
		done
		git_ commit -qam "compliance: documents reviewed for credit-scorer 3"
	fi

	step "$name: apply (the fairness eval over age bands gates prod)"
	"$cairn" apply --approvals 1 --state "$state" "$repo"
	"$cairn" audit verify --state "$state" "$repo"

	step "$name: audit report --framework eu-ai-act (one gap left open on purpose: no incident register)"
	"$cairn" audit report --state "$state" "$repo" --framework eu-ai-act --output "$work/credit-report.md"
	sed -n '/^# Compliance report/,/^## Crosswalk/p' "$work/credit-report.md"
	if ! grep -q 'no incident register declared' "$work/credit-report.md"; then
		echo "demo: the credit report does not name the missing incident register" >&2
		return 1
	fi
	step "$name: the same as a CI gate: --fail-on missing exits 1 while a row is missing (on purpose)"
	rc=0
	"$cairn" audit report --state "$state" "$repo" --framework eu-ai-act --fail-on missing >/dev/null || rc=$?
	if [[ $rc -ne 1 ]]; then
		echo "demo: --fail-on missing should exit 1 on the credit example (exit $rc)" >&2
		return 1
	fi
}

run_example support-assistant
run_example fraud-detection
credit_example
printf '\ndemo: the examples converged offline; audit chains verified; the credit example'"'"'s EU AI Act report written.\n'
