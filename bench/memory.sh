#!/usr/bin/env bash
# bench/memory.sh (issues 8, 18): peak resident memory of the credbatch
# process on a 1,000,000-row manifest (goal <= 64 MiB; issue 8's was < 128),
# and the run's wall time.
#
# Emulator: a 1,000,001-user --users-file (one user per row: duplicate
# (user, action) pairs are refused), no limits, --window 1s. credbatch:
# 1,000,000 expire_password rows by ID, --rate 0 --max-share 100 --workers 32,
# under /usr/bin/time -v ("Maximum resident set size" of credbatch alone).
# MEMORY_ROWS scales the manifest down (default 1000000). MEMORY_RUNS
# (default 1) runs it that many times, each against a fresh emulator, and
# prints every run and the medians.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=${MEMORY_ROWS:-1000000}
[[ -x /usr/bin/time ]] || { log "/usr/bin/time is missing: apt-get install -y time"; exit 1; }
build
gen_users $((ROWS + 1)) "$TMP/users.json"
gen_manifest 1 "$ROWS" expire_password "$TMP/manifest.csv"
RUNS=${MEMORY_RUNS:-1}
PEAKS=() WALLS=()
for run in $(seq 1 "$RUNS"); do
	start_mock mock --users-file "$TMP/users.json" --window 1s
	log "emulator up with $((ROWS + 1)) users; running $ROWS rows (run $run of $RUNS)"
	rm -f "$TMP/report.csv" "$TMP/report.csv.checkpoint"
	rc=0
	OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 1200 /usr/bin/time -v -o "$TMP/time.txt" \
		"$CB" run "$TMP/manifest.csv" --org-url "$MOCK_URL" --yes --rate 0 --workers 32 --max-share 100 \
		--report "$TMP/report.csv" --summary-json "$TMP/summary.json" --progress-every 1h 2>"$TMP/run.err" || rc=$?
	[[ $rc -eq 0 ]] || { log "credbatch exited $rc:"; tail -20 "$TMP/run.err" >&2; cat "$TMP/time.txt" >&2 || true; exit 1; }
	ok=$(json_get "$TMP/summary.json" 'd["outcomes"].get("succeeded", 0)')
	[[ $ok -eq $ROWS ]] || { log "$ok of $ROWS succeeded"; exit 1; }
	KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")
	WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$TMP/time.txt")
	CPU=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u + s}' "$TMP/time.txt")
	log "credbatch: $ROWS rows, wall $WALL, cpu ${CPU}s, max RSS ${KB} KiB"
	PEAKS+=("$(calc "round($KB / 1024, 1)")")
	WALLS+=("$(json_get "$TMP/summary.json" 'round(d["wall_seconds"], 1)')")
	stop_mock
done
WALL=$(median "${WALLS[@]}")
echo "FIGURE memory_wall $WALL s (info: $ROWS rows, $(calc "round($ROWS / $WALL)") rows/s; median of ${WALLS[*]})"
echo "FIGURE memory_peak_rss $(median "${PEAKS[@]}") MiB (goal <= 64; median of ${PEAKS[*]})"
