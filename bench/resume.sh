#!/usr/bin/env bash
# bench/resume.sh (issues 5, 8, 18): resume start-up on a checkpoint of about
# 1,000,000 finished rows: process start to the first request the emulator
# sees (goal <= 1 s; issue 8's was < 3 s), and the whole resume's wall time.
#
# Setup: a manifest of RESUME_ROWS (default 1,000,000) expire_password rows
# by ID plus one last row naming a user the org does not have. Run 1 uses
# --halt-on 1: that last row fails (404), the halt stops feeding, and the rows
# not yet sent at that instant (fewer than --workers) stay pending; every
# other row is finished in the checkpoint. The emulator is then replaced by a
# fresh one on the same address (the checkpoint names the org URL), so its log
# holds only the resume's requests. Run 2 is the same command without
# --halt-on (a setting that may change between runs). RESUME_RUNS (default
# 1) resumes that many times, each from a copy of the same stopped state
# (report and checkpoint as the setup left them) against a fresh emulator,
# and prints every run and the medians. The clock starts once the fresh
# emulator is idle: it goes on working for about a second after it prints
# its URL (the garbage of parsing a million users), on the same 2 CPUs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=${RESUME_ROWS:-1000000}
RUNS=${RESUME_RUNS:-1}
build
gen_users $((ROWS + 1)) "$TMP/users.json"
gen_manifest 1 "$ROWS" expire_password "$TMP/manifest.csv"
if [[ ${BENCH_ID_ONLY:-0} == 1 ]]; then
	echo "00u99999999999999999,expire_password" >>"$TMP/manifest.csv"
else
	echo "00u99999999999999999,user9999999@example.com,expire_password" >>"$TMP/manifest.csv"
fi

start_mock setup --users-file "$TMP/users.json" --window 1s
ADDR=${MOCK_URL#http://}
cb_run() { # cb_run NAME [flags...]
	local name=$1
	shift
	OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 1200 "$CB" run "$TMP/manifest.csv" \
		--org-url "$MOCK_URL" --yes --rate 0 --workers 32 --max-share 100 \
		--report "$TMP/report.csv" --summary-json "$TMP/$name.summary.json" --progress-every 1h "$@" \
		2>"$TMP/$name.err"
}
log "setup: running $((ROWS + 1)) rows with --halt-on 1"
rc=0
cb_run setup --halt-on 1 || rc=$?
[[ $rc -eq 3 ]] || { log "setup run exited $rc, expected 3:"; tail -20 "$TMP/setup.err" >&2; exit 1; }
FINISHED=$(json_get "$TMP/setup.summary.json" 'sum(d["outcomes"].values())')
PENDING=$(json_get "$TMP/setup.summary.json" 'd["pending"]')
log "setup: $FINISHED rows finished, $PENDING pending; checkpoint $(du -h "$TMP/report.csv.checkpoint" | cut -f1)"
stop_mock
cp "$TMP/report.csv" "$TMP/report.csv.stopped"
cp "$TMP/report.csv.checkpoint" "$TMP/report.csv.checkpoint.stopped"

TTFRS=() WALLS=()
for run in $(seq 1 "$RUNS"); do
	cp "$TMP/report.csv.stopped" "$TMP/report.csv"
	cp "$TMP/report.csv.checkpoint.stopped" "$TMP/report.csv.checkpoint"
	start_mock resume --addr "$ADDR" --users-file "$TMP/users.json" --window 1s
	[[ ${MOCK_URL#http://} == "$ADDR" ]] || { log "the emulator did not come back on $ADDR"; exit 1; }
	sync
	wait_idle "$(pgrep -P "$MOCK_PID" || echo "$MOCK_PID")" # timeout's child: the emulator

	rc=0
	T0=$(now_s)
	cb_run resume || rc=$?
	T1=$(now_s)
	[[ $rc -eq 1 ]] || { log "resume exited $rc, expected 1 (one row failed):"; tail -20 "$TMP/resume.err" >&2; exit 1; }
	PENDING2=$(json_get "$TMP/resume.summary.json" 'd["pending"]')
	[[ $PENDING2 -eq 0 ]] || { log "resume left $PENDING2 rows pending"; exit 1; }
	curl -fsS "$MOCK_URL/_emulator/log" >"$TMP/resume.log.jsonl"
	FIRST=$(python3 -c '
import json, sys, datetime
t = json.loads(open(sys.argv[1]).readline())["time"]
d, frac = t.rstrip("Z").split(".") if "." in t else (t.rstrip("Z"), "0")
s = datetime.datetime.fromisoformat(d).replace(tzinfo=datetime.timezone.utc).timestamp()
print("%.6f" % (s + float("0." + frac)))' "$TMP/resume.log.jsonl")
	NREQ=$(wc -l <"$TMP/resume.log.jsonl")
	TTFRS+=("$(calc "round($FIRST - $T0, 3)")")
	WALLS+=("$(calc "round($T1 - $T0, 3)")")
	log "resume $run of $RUNS: $NREQ requests; first request after ${TTFRS[-1]}s; wall ${WALLS[-1]}s"
	stop_mock
done
TTFR=$(median "${TTFRS[@]}")
WALL=$(median "${WALLS[@]}")
echo "FIGURE resume_wall $WALL s (info: the whole resume, $PENDING pending rows sent and the summary over $FINISHED rows included; median of ${WALLS[*]})"
echo "FIGURE resume_first_request $TTFR s (goal <= 1; $FINISHED finished rows; median of ${TTFRS[*]})"
