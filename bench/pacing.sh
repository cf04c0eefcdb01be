#!/usr/bin/env bash
# bench/pacing.sh (issue 4): does credbatch use a rate-limit window fully when
# allowed to, stay out of 429s, and keep under --max-share?
#
# Emulator: credential bucket --limit 100 per --window 1s (GETs unlimited), a
# 2,100-user --users-file with known IDs; manifest: 2,000
# expire_password_with_temp_password rows by ID (so only POSTs count).
#   run A: --workers 32 --rate 1000 --max-share 100 -> wall / 20 s (goal <= 1.05),
#          429s / requests (goal <= 1%)
#   run B: the same with --max-share 50 -> wall / 20 s (about 2 expected),
#          max window share from /_emulator/stats (goal <= 50%)
# Set PACING_DIAG=1 for a run C: run A against an emulator that sends no Date
# header (the pacer then converts Reset with offset 0).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=2000
LIMIT=100
IDEAL=$(calc "$ROWS / $LIMIT")

build
gen_users 2100 "$TMP/users.json"
gen_manifest 1 "$ROWS" expire_password_with_temp_password "$TMP/manifest.csv"

# pacing_run NAME SHARE [mock flags...]: sets WALL, REQS, R429, MAXSHARE.
pacing_run() {
	local name=$1 share=$2
	shift 2
	start_mock "$name" --users-file "$TMP/users.json" --limit "$LIMIT" --window 1s "$@"
	local t0 t1 rc=0
	t0=$(now_s)
	OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 300 "$CB" run "$TMP/manifest.csv" \
		--org-url "$MOCK_URL" --yes --rate 1000 --workers 32 --max-share "$share" \
		--report "$TMP/$name.report.csv" --summary-json "$TMP/$name.summary.json" \
		--progress-every 1h 2>"$TMP/$name.run.err" || rc=$?
	t1=$(now_s)
	if [[ $rc -ne 0 ]]; then
		log "run $name exited $rc:"; cat "$TMP/$name.run.err" >&2; exit 1
	fi
	curl -fsS "$MOCK_URL/_emulator/stats" >"$TMP/$name.stats.json"
	stop_mock
	WALL=$(calc "round($t1 - $t0, 3)")
	REQS=$(json_get "$TMP/$name.stats.json" 'd["requests"]')
	R429=$(json_get "$TMP/$name.stats.json" 'd["rateLimited"]')
	MAXSHARE=$(json_get "$TMP/$name.stats.json" 'round(100*d["maxShare"]["credentials"], 1)')
	local succeeded
	succeeded=$(json_get "$TMP/$name.summary.json" 'd["outcomes"].get("succeeded", 0)')
	[[ $succeeded -eq $ROWS ]] || { log "run $name: $succeeded of $ROWS succeeded"; exit 1; }
	local per
	per=$(json_get "$TMP/$name.stats.json" '" ".join(str(w["used"]) for w in d["windows"] if w["bucket"] == "credentials")')
	log "run $name (max-share $share $*): wall ${WALL}s, $REQS requests, $R429 429s, max window share ${MAXSHARE}%"
	log "  requests per 1 s window: $per"
}

pacing_run A 100
A_RATIO=$(calc "round($WALL / $IDEAL, 3)")
A_429=$(calc "round(100 * $R429 / $REQS, 2)")
A_SHARE=$MAXSHARE

pacing_run B 50
B_RATIO=$(calc "round($WALL / $IDEAL, 3)")
B_429=$(calc "round(100 * $R429 / $REQS, 2)")
B_SHARE=$MAXSHARE

if [[ ${PACING_DIAG:-0} == 1 ]]; then
	pacing_run C 100 --omit-date
	log "FIGURE pacing_share100_nodate_wall_ratio $(calc "round($WALL / $IDEAL, 3)") x (diagnostic: no Date header)"
fi

echo "FIGURE pacing_share100_max_window_share $A_SHARE % (info)"
echo "FIGURE pacing_share50_429_share $B_429 % (goal <= 1)"
echo "FIGURE pacing_share50_wall_ratio $B_RATIO x (about 2 expected)"
echo "FIGURE pacing_share50_max_window_share $B_SHARE % (goal <= 50)"
echo "FIGURE pacing_share100_429_share $A_429 % (goal <= 1)"
echo "FIGURE pacing_share100_wall_ratio $A_RATIO x (goal <= 1.05)"
