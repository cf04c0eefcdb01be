#!/usr/bin/env bash
# bench/manifest.sh (issue 15): `credbatch manifest --all` of 100,000 users
# against the emulator at 600 requests a minute in every bucket, with
# --max-share 50: how close the export comes to the least time the
# credential bucket allows, how many 429s it meets, and its peak RSS.
#
# Emulator: a 100,000-user --users-file (all ACTIVE: 500 full pages of 200,
# then the empty page a full last page points to), --limit, --get-limit,
# --group-limit, --app-limit 600, --window 1m (Okta's). The export starts on
# a window boundary (windows are aligned on whole minutes since the epoch),
# so the first window is a whole one. At --max-share 50 the credential
# bucket gives the export 300 requests a window, so the least time is
# pages ÷ 300 minutes (501 pages: 100.2 s).
#   wall ÷ that minimum (goal <= 1.05), 429s (goal 0), peak RSS of credbatch
#   alone from /usr/bin/time -v (goal <= 64 MiB).
# MANIFEST_USERS scales it (default 100000); it runs for about 100 s plus up
# to a minute's wait for the window, bounded by timeout 600.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

USERS=${MANIFEST_USERS:-100000}
LIMIT=600
SHARE=50
[[ -x /usr/bin/time ]] || { log "/usr/bin/time is missing: apt-get install -y time"; exit 1; }
build
gen_users "$USERS" "$TMP/users.json"
start_mock mock --users-file "$TMP/users.json" --limit "$LIMIT" --get-limit "$LIMIT" \
	--group-limit "$LIMIT" --app-limit "$LIMIT" --window 1m
log "emulator up with $USERS users at $LIMIT requests a minute per bucket"

# Start just after a window boundary.
wait_s=$(python3 -c 'import time; print(round(60 - time.time() % 60 + 0.2, 3))')
log "waiting ${wait_s}s for the next window"
sleep "$wait_s"

rc=0
t0=$(now_s)
OKTA_CLIENT_TOKEN=$(cat "$MOCK_TOKEN_FILE") timeout 600 /usr/bin/time -v -o "$TMP/time.txt" \
	"$CB" manifest --all -o "$TMP/all.csv" --org-url "$MOCK_URL" --max-share "$SHARE" \
	--progress-every 20s 2>"$TMP/manifest.err" || rc=$?
t1=$(now_s)
[[ $rc -eq 0 ]] || { log "credbatch manifest exited $rc:"; tail -20 "$TMP/manifest.err" >&2; exit 1; }
sed 's/^/  /' "$TMP/manifest.err" >&2
curl -fsS "$MOCK_URL/_emulator/stats" >"$TMP/stats.json"

ROWS=$(($(wc -l <"$TMP/all.csv") - 1))
[[ $ROWS -eq $USERS ]] || { log "the manifest holds $ROWS users, want $USERS"; exit 1; }
UNIQUE=$(tail -n +2 "$TMP/all.csv" | cut -d, -f1 | sort -u | wc -l)
[[ $UNIQUE -eq $USERS ]] || { log "$UNIQUE distinct users in $ROWS rows"; exit 1; }
PAGES=$(sed -n 's/.*credbatch: \([0-9]*\) pages\{0,1\}, .*users listed.*/\1/p' "$TMP/manifest.err")
R429=$(json_get "$TMP/stats.json" 'd["rateLimited"]')
MAXSHARE=$(json_get "$TMP/stats.json" 'round(100*d["maxShare"]["credentials"], 1)')
PER=$(json_get "$TMP/stats.json" '" ".join(str(w["used"]) for w in d["windows"] if w["bucket"] == "credentials")')
WALL=$(calc "round($t1 - $t0, 2)")
IDEAL=$(calc "round($PAGES / ($LIMIT * $SHARE / 100) * 60, 2)")
KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")
log "$ROWS users in $PAGES pages: wall ${WALL}s, least the bucket allows ${IDEAL}s; requests per window: $PER; max window share ${MAXSHARE}%"
echo "FIGURE manifest_max_window_share $MAXSHARE % (goal <= $SHARE)"
echo "FIGURE manifest_429s $R429 (goal 0)"
echo "FIGURE manifest_peak_rss $(calc "round($KB / 1024, 1)") MiB (goal <= 64)"
echo "FIGURE manifest_wall_ratio $(calc "round($WALL / $IDEAL, 3)") x (goal <= 1.05; ${WALL}s for $PAGES pages)"
