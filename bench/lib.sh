# bench/lib.sh: helpers sourced by the bench scripts (not run on its own).
# Every script that sources it gets: a temp dir $TMP removed on exit, every
# process started with start_bg killed on exit, the binary built into $TMP/cb.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/credbatch-bench.XXXXXX")
BG_PIDS=()

cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

log() { printf 'bench: %s\n' "$*" >&2; }

# build: the binary of this tree, or BENCH_BIN when set (to measure another
# build with the same script, e.g. the commit before a change).
build() {
	if [[ -n ${BENCH_BIN:-} ]]; then
		CB=$BENCH_BIN
		log "measuring $CB (BENCH_BIN)"
		return
	fi
	(cd "$REPO" && go build -o "$TMP/cb" ./cmd/credbatch)
	CB=$TMP/cb
}

# median N...: the median of the numbers given.
median() { python3 -c 'import statistics, sys; print("%g" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# gen_users N FILE: N ACTIVE users with a password, IDs 00u + 17 digits
# (index 0 is the token's owner: manifests start at index 1).
gen_users() {
	awk -v n="$1" 'BEGIN {
		printf "["
		for (i = 0; i < n; i++) {
			if (i) printf ","
			printf "{\"id\":\"00u%017d\",\"login\":\"user%07d@example.com\",\"email\":\"user%07d@example.com\",\"firstName\":\"U\",\"lastName\":\"%d\",\"status\":\"ACTIVE\",\"password\":\"Passw0rd-%d\"}\n", i, i, i, i, i
		}
		print "]"
	}' >"$2"
}

# gen_manifest FIRST LAST ACTION FILE: one row per user index FIRST..LAST, by
# ID with its login, as `credbatch manifest` writes them (a row named by ID
# alone costs one GET of the user, for the report's login column).
# BENCH_ID_ONLY=1 writes the ID alone, for a BENCH_BIN built before the
# login column existed (before 2026-12-05 such a build refuses it).
gen_manifest() {
	awk -v a="$1" -v b="$2" -v act="$3" -v idonly="${BENCH_ID_ONLY:-0}" 'BEGIN {
		print (idonly == 1 ? "user,action" : "user,login,action")
		for (i = a; i <= b; i++) {
			if (idonly == 1) printf "00u%017d,%s\n", i, act
			else printf "00u%017d,user%07d@example.com,%s\n", i, i, act
		}
	}' >"$4"
}

# start_mock NAME ARGS...: starts `cb mock` on 127.0.0.1:0 in the background
# (under $MOCK_PREFIX when set),
# sets MOCK_URL and MOCK_TOKEN_FILE. Bounded by timeout 1800 in any case.
start_mock() {
	local name=$1
	shift
	MOCK_TOKEN_FILE=$TMP/$name.token
	# MOCK_PREFIX (e.g. "taskset -c 0") runs the emulator under a wrapper
	# that execs it, so that MOCK_PID stays the emulator's own.
	${MOCK_PREFIX:-} timeout 1800 "$CB" mock --addr 127.0.0.1:0 --token-file "$MOCK_TOKEN_FILE" "$@" \
		>"$TMP/$name.url" 2>"$TMP/$name.err" &
	BG_PIDS+=($!)
	MOCK_PID=$!
	local i
	for i in $(seq 1 600); do
		if [[ -s $TMP/$name.url ]]; then
			MOCK_URL=$(head -1 "$TMP/$name.url")
			case $MOCK_URL in
			http://127.0.0.1:*) return 0 ;;
			*) log "emulator printed an unexpected URL: $MOCK_URL"; exit 1 ;;
			esac
		fi
		if ! kill -0 "$MOCK_PID" 2>/dev/null; then
			log "emulator exited:"; cat "$TMP/$name.err" >&2; exit 1
		fi
		sleep 0.1
	done
	log "emulator did not print its URL within 60 s"
	exit 1
}

stop_mock() {
	kill "$MOCK_PID" 2>/dev/null || true
	wait "$MOCK_PID" 2>/dev/null || true
}

# json_get FILE EXPR: a value from a JSON file (python3 -c).
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

# now_s: the clock in seconds with nanoseconds.
now_s() { date +%s.%N; }

# calc EXPR: floating-point arithmetic.
calc() { python3 -c "print($1)"; }

# cpu_s PID: CPU seconds (user + system) the process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }

# wait_idle PID: waits until the process's CPU time stops growing for half
# a second (at most 60 s). The emulator goes on working for a second or so
# after it prints its URL (it collects the garbage of parsing a large users
# file); a figure that starts its clock then measures that too.
wait_idle() {
	local prev=-1 cur i
	for i in $(seq 1 120); do
		cur=$(cpu_s "$1")
		[[ $cur == "$prev" ]] && return 0
		prev=$cur
		sleep 0.5
	done
	log "process $1 still busy after 60 s; measuring anyway"
}
