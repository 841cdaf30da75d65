#!/usr/bin/env bash
# ab.sh: A/B comparison of meshgate builds (or settings) under the load of
# `make bench-e2e`, interleaved so that every variant sees the same machine.
#
#   benchmarks/ab.sh ROUNDS DURATION 'name|/path/to/meshgate|ENV=V ...[|YAML]' ...
# (YAML, optional, is appended to the variant's configuration; \n for new lines)
#   e.g. go build -o /tmp/mg-old ./cmd/meshgate   (before the change)
#        go build -o /tmp/mg-new ./cmd/meshgate   (after)
#        benchmarks/ab.sh 10 3s 'old|/tmp/mg-old|' 'new|/tmp/mg-new|' 'new-1p|/tmp/mg-new|GOMAXPROCS=1'
#
# It builds the echo server (benchmarks/cmd/echoserver), starts it and one
# meshgate per variant (GET /bench/echo as in the e2e harness, 2 Motan2
# connections), then runs ROUNDS rounds; in each round every variant gets a
# 1s wrk warm-up and a measured `wrk -t1 -c32 -d DURATION`, in an order that
# rotates from round to round (the position in a round biases the result by
# a few percent). Per run it prints the gateway's CPU per request (from
# /proc/<pid>/task/*/schedstat), the echo server's, the context switches of
# the gateway per request, and rest_us: CPU per request of everything else
# on the machine (wrk plus other people's work; ~5 µs when the machine is
# otherwise quiet). Last, per variant: the median and the per-round ratio to
# the first variant (median, and in how many rounds it was lower).
#
# Needs Linux, Go and wrk. Absolute numbers move with the machine's other
# load (see RESULTS.md); compare variants of one invocation only.
set -u
if [ $# -lt 3 ]; then
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
ROUNDS=$1
DUR=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/meshgate-ab.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here" && go build -o "$tmp/echoserver" ./cmd/echoserver) || exit 1

eport=$((20000 + RANDOM % 20000))
"$tmp/echoserver" -addr "127.0.0.1:$eport" -service bench.EchoService >/dev/null 2>&1 &
epid=$!
pids+=("$epid")
sleep 0.3

names=()
ports=()
gpids=()
i=0
for v in "$@"; do
	IFS='|' read -r name bin envs yamlx <<<"$v"
	port=$((eport + 100 + i))
	i=$((i + 1))
	cat >"$tmp/$name.yaml" <<EOF
http:
  listen: 127.0.0.1:$port
clusters:
  - name: echo
    endpoints: ["127.0.0.1:$eport"]
    lb: round_robin
    connections: 2
routes:
  - name: bench-echo
    method: GET
    path: /bench/echo
    target: {cluster: echo, service: bench.EchoService, method: echo, timeout: 1s}
    args:
      - {name: msg, from: query, type: string}
EOF
	if [ -n "${yamlx:-}" ]; then printf '%b\n' "$yamlx" >>"$tmp/$name.yaml"; fi
	extra=()
	if "$bin" run -h 2>&1 | grep -q -- -admin-addr; then extra=(--admin-addr off); fi
	# shellcheck disable=SC2086 # envs is a list of NAME=VALUE words
	env $envs "$bin" run -c "$tmp/$name.yaml" "${extra[@]}" >"$tmp/$name.log" 2>&1 &
	gpids+=($!)
	pids+=($!)
	names+=("$name")
	ports+=("$port")
done
sleep 1
for j in "${!names[@]}"; do
	if ! kill -0 "${gpids[$j]}" 2>/dev/null; then
		echo "ab: ${names[$j]} did not start:" >&2
		cat "$tmp/${names[$j]}.log" >&2
		exit 1
	fi
done

cpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
csw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {printf "%.0f", s}'; }
busy() { awk '/^cpu / {printf "%.0f", ($2+$3+$4+$7+$8+$9) * 1e7}' /proc/stat; } # ns, USER_HZ=100

results="$tmp/results"
n=${#names[@]}
for r in $(seq 1 "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		j=$(((k + r) % n))
		name=${names[$j]}
		p=${gpids[$j]}
		url="http://127.0.0.1:${ports[$j]}/bench/echo?msg=hello"
		wrk -t1 -c32 -d1s "$url" >/dev/null
		c0=$(cpu "$p"); e0=$(cpu "$epid"); s0=$(csw "$p"); b0=$(busy)
		out=$(wrk -t1 -c32 -d"$DUR" --latency "$url")
		c1=$(cpu "$p"); e1=$(cpu "$epid"); s1=$(csw "$p"); b1=$(busy)
		if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
			echo "ab: $name: failed requests:" >&2
			echo "$out" >&2
			exit 1
		fi
		echo "$out" | awk -v r="$r" -v n="$name" -v c=$((c1 - c0)) -v e=$((e1 - e0)) -v s=$((s1 - s0)) -v b=$((b1 - b0)) '
			/requests in/ {q = $1}
			/Requests\/sec/ {rps = $2}
			$1 == "99%" {p99 = $2}
			END {printf "round %d %-12s us/req=%.2f echo_us=%.2f rps=%.0f p99=%s csw/req=%.3f rest_us=%.1f\n",
				r, n, c/1000/q, e/1000/q, rps, p99, s/q, (b-c-e)/1000/q}' | tee -a "$results"
	done
done

echo
# Summary. Lines look like: round R NAME us/req=X ...
usreq() { awk -v n="$1" '$3 == n {sub("us/req=", "", $4); print $2, $4}' "$results"; }
median() { sort -n | awk '{x[NR] = $1} END {print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2}'; }
base=${names[0]}
usreq "$base" | sort -k1,1 >"$tmp/base"
for name in "${names[@]}"; do
	line=$(printf '%-12s median %6.2f µs/req over %d runs' "$name" "$(usreq "$name" | awk '{print $2}' | median)" "$ROUNDS")
	if [ "$name" != "$base" ]; then
		usreq "$name" | sort -k1,1 | join - "$tmp/base" >"$tmp/pairs"
		ratio=$(awk '{print $2 / $3}' "$tmp/pairs" | median)
		lower=$(awk '$2 < $3 {k++} END {print k + 0}' "$tmp/pairs")
		line="$line; per round vs $base: median ratio $(printf %.3f "$ratio"), lower in $lower of $(wc -l <"$tmp/pairs")"
	fi
	echo "$line"
done
