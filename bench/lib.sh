# Shared by the bench drivers (sourced, not run): a work directory removed on exit together with
# the processes listed in PIDS, and the helpers every driver uses.
# bench_init NAME: creates $WORK (/tmp/sb-bench-NAME.*), raises the open-file limit, and prints
# one comment line describing the machine.
bench_init() {
  WORK="$(mktemp -d "/tmp/sb-bench-$1.XXXXXX")"
  PIDS=()
  trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg); date: $(date -u +%F)" >&2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# run_wrk NAME URL SCRIPT [VAR=value...]: wrk -t2 -c$CONNECTIONS (default 64) -d$DURATION with
# bench/wrk/SCRIPT; prints its JSON summary line tagged with "bench":NAME.
run_wrk() {
  local name="$1" url="$2" script="$3" conns="${CONNECTIONS:-64}"; shift 3
  echo "# $name: wrk -t2 -c$conns -d$DURATION $url" >&2
  env "$@" wrk -t2 -c"$conns" -d"$DURATION" --latency -s "bench/wrk/$script" "$url" \
    | grep '^{"wrk"' | sed "s/^{/{\"bench\":\"$name\",/"
}
