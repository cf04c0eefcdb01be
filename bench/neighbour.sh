#!/usr/bin/env bash
# bench/neighbour.sh (issue 18): does credbatch keep --max-share beside a
# steady neighbour (the org's other integrations), without a 429 for anyone,
# and still use what the neighbour leaves of the share?
#
# The emulator's --neighbour R counts R requests a second in the credential
# bucket that no client sends. Users come from a --users-file with known IDs;
# the manifest is expire_password rows by ID (so only the POSTs count).
#   run E (the emulator's shape): --limit 200 --window 10s --neighbour 6 (30%),
#          200 rows, --max-share 50 --workers 16:
#          busiest window (goal <= 101 of 200), 429s (goal 0),
#          wall / 50 s (the minimum the share leaves: 200 / ((50% - 30%) x 200)
#          windows of 10 s; goal <= 1.05)
#   run O (Okta's shape): --limit 600 --window 60s --neighbour 2 (20%),
#          1,000 rows, --max-share 50 --workers 16: the same figures, against
#          1,000 / ((50% - 20%) x 600) windows of 60 s = 333.3 s.
# NEIGHBOUR_RUNS=E runs only the first (about a minute; both take ~7 min).
# The emulator's windows are read from /_emulator/stats once the window the
# run ended in is over, so that each holds the neighbour's requests to its end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build
mock_help=$("$CB" mock --help 2>&1 || true)
if [[ $mock_help != *--neighbour* ]]; then
	log "this credbatch's emulator has no --neighbour flag yet (issue 18): nothing to measure"
	exit 2
fi

# neighbour_run NAME LIMIT WINDOW_S NEIGHBOUR_PER_S ROWS SHARE: prints the
# figures of one run, named NAME.
neighbour_run() {
	local name=$1 limit=$2 window=$3 per_s=$4 rows=$5 share=$6
	local pct ideal
	pct=$(calc "100 * $per_s * $window / $limit")
	ideal=$(calc "$rows / (($share - $pct) / 100 * $limit) * $window")
	gen_users $((rows + 1)) "$TMP/$name.users.json"
	gen_manifest 1 "$rows" expire_password "$TMP/$name.manifest.csv"
	start_mock "$name" --users-file "$TMP/$name.users.json" --limit "$limit" --window "${window}s" \
		--neighbour "$per_s"
	# Let the neighbour run for a whole window first, as a real one would.
	sleep "$window"
	local t0 t1 rc=0
	t0=$(now_s)
	OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 900 "$CB" run "$TMP/$name.manifest.csv" \
		--org-url "$MOCK_URL" --yes --workers 16 --max-share "$share" \
		--report "$TMP/$name.report.csv" --summary-json "$TMP/$name.summary.json" \
		--progress-every 1h 2>"$TMP/$name.run.err" || rc=$?
	t1=$(now_s)
	if [[ $rc -ne 0 ]]; then
		log "run $name exited $rc:"; cat "$TMP/$name.run.err" >&2; exit 1
	fi
	local succeeded
	succeeded=$(json_get "$TMP/$name.summary.json" 'd["outcomes"].get("succeeded", 0)')
	[[ $succeeded -eq $rows ]] || { log "run $name: $succeeded of $rows succeeded"; exit 1; }
	# Wait for the end of the window the run ended in (and a second).
	sleep "$(calc "$window - ($t1 % $window) + 1")"
	curl -fsS "$MOCK_URL/_emulator/stats" >"$TMP/$name.stats.json"
	stop_mock
	local wall ratio busiest r429 rejected per
	wall=$(calc "round($t1 - $t0, 3)")
	ratio=$(calc "round($wall / $ideal, 3)")
	busiest=$(json_get "$TMP/$name.stats.json" 'max([w["used"] + w.get("neighbour", 0) for w in d["windows"] if w["bucket"] == "credentials"] or [0])')
	r429=$(json_get "$TMP/$name.stats.json" 'd["rateLimited"]')
	rejected=$(json_get "$TMP/$name.stats.json" 'sum(w["rejected"] for w in d["windows"] if w["bucket"] == "credentials")')
	per=$(json_get "$TMP/$name.stats.json" '" ".join(str(w["used"] + w.get("neighbour", 0)) for w in d["windows"] if w["bucket"] == "credentials")')
	log "run $name: limit $limit per ${window}s, neighbour $per_s/s ($pct%), $rows rows, max-share $share: wall ${wall}s (minimum ${ideal}s), busiest window $busiest, 429s $r429 to credbatch, $rejected refused in the windows"
	log "  everyone's requests per window: $per"
	echo "FIGURE neighbour_${name}_busiest_window $busiest of $limit (goal <= $((limit * share / 100 + 1)))"
	echo "FIGURE neighbour_${name}_429s $r429 to credbatch, $rejected in all (goal 0)"
	echo "FIGURE neighbour_${name}_wall_ratio $ratio x (goal <= 1.05)"
}

if [[ ${NEIGHBOUR_RUNS:-EO} == *O* ]]; then
	neighbour_run okta 600 60 2 1000 50
fi
if [[ ${NEIGHBOUR_RUNS:-EO} == *E* ]]; then
	neighbour_run emulator 200 10 6 200 50
fi
