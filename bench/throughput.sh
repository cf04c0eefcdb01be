#!/usr/bin/env bash
# bench/throughput.sh (issue 8): how close does credbatch, with its durable
# checkpoint (fsync per group of outcomes) and report, come to a plain HTTP
# load generator hitting the same endpoint at the same concurrency?
#
# Emulator without limits, --window 1s (an unlimited bucket reports Limit
# 10000 per window; with the default 1 min window the pacer would hold
# credbatch to 10000/min). credbatch: 20,000 expire_password rows by ID,
# --workers 32 --rate 0 --max-share 100. Load generator: wrk, 32 connections,
# POST expire_password on one user with the Authorization header, 10 s.
# Three alternating runs each; the figure is median(credbatch jobs/s) /
# median(wrk req/s) (goal >= 0.80).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=${THROUGHPUT_ROWS:-20000}
CONC=32
WRK_SECONDS=10

command -v wrk >/dev/null || { log "wrk is missing: apt-get install -y wrk"; exit 1; }
build
gen_users $((ROWS + 1)) "$TMP/users.json"
gen_manifest 1 "$ROWS" expire_password "$TMP/manifest.csv"
start_mock mock --users-file "$TMP/users.json" --window 1s

cat >"$TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "SSWS $(cat "$MOCK_TOKEN_FILE")"
wrk.headers["Accept"] = "application/json"
wrk.body = ""  -- wrk sends Content-Length only with a body; the emulator answers 411 without it
EOF
chmod 600 "$TMP/post.lua"
TARGET=$MOCK_URL/api/v1/users/00u$(printf '%017d' 1)/lifecycle/expire_password

cb_run() { # cb_run N: prints jobs/s
	local n=$1 t0 t1 rc=0
	t0=$(now_s)
	OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 600 "$CB" run "$TMP/manifest.csv" \
		--org-url "$MOCK_URL" --yes --rate 0 --workers "$CONC" --max-share 100 \
		--report "$TMP/r$n.report.csv" --summary-json "$TMP/r$n.summary.json" \
		--progress-every 1h 2>"$TMP/r$n.err" || rc=$?
	t1=$(now_s)
	[[ $rc -eq 0 ]] || { log "credbatch run $n exited $rc:"; cat "$TMP/r$n.err" >&2; exit 1; }
	local ok
	ok=$(json_get "$TMP/r$n.summary.json" 'd["outcomes"].get("succeeded", 0)')
	[[ $ok -eq $ROWS ]] || { log "credbatch run $n: $ok of $ROWS succeeded"; exit 1; }
	calc "round($ROWS / ($t1 - $t0), 1)"
}

wrk_run() { # wrk_run N: prints req/s (non-2xx answers make it fail)
	local out
	out=$(timeout $((WRK_SECONDS + 30)) wrk -t 2 -c "$CONC" -d "${WRK_SECONDS}s" -s "$TMP/post.lua" "$TARGET")
	if grep -q 'Non-2xx' <<<"$out"; then
		log "wrk met non-2xx answers:"; echo "$out" >&2; exit 1
	fi
	awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

CBS=() WRKS=()
for i in 1 2 3; do
	c=$(cb_run "$i")
	CBS+=("$c")
	w=$(wrk_run "$i")
	WRKS+=("$w")
	log "round $i: credbatch $c jobs/s, wrk $w req/s"
done
CB_MED=$(median "${CBS[@]}")
WRK_MED=$(median "${WRKS[@]}")
log "median: credbatch $CB_MED jobs/s (${CBS[*]}), wrk $WRK_MED req/s (${WRKS[*]})"
echo "FIGURE throughput_credbatch $CB_MED jobs/s (info)"
echo "FIGURE throughput_wrk $WRK_MED req/s (info)"
echo "FIGURE throughput_ratio $(calc "round($CB_MED / $WRK_MED, 3)") x (goal >= 0.80)"
