#!/usr/bin/env bash
# /metrics: on the API socket and alone on TCP, valid for promtool, and
# scraped by a real Prometheus that then reports a volume's written bytes.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
requires promtool
requires python3

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port)
start_vramd --metrics-listen "127.0.0.1:$mport"

api GET /metrics; expect 200 "/metrics on the API socket"
curl -sf --max-time 10 "http://127.0.0.1:$mport/metrics" >"$tmpdir/m" || fail "no /metrics on TCP"
curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/v1/volumes" | grep -q 404 ||
  fail "the control API must not be served on TCP"
pass "/metrics on the API socket and on TCP; the control API is not on TCP"

have_nbd=1
api GET /v1
echo "$body" | jq -e '.frontends | index("nbd") != null' >/dev/null || have_nbd=0
if [ $have_nbd = 1 ]; then
  api POST /v1/volumes -d '{"name":"m0","size":16777216}'; expect 201 "create m0"
fi
curl -sf "http://127.0.0.1:$mport/metrics" >"$tmpdir/m"
promtool check metrics <"$tmpdir/m" >"$tmpdir/lint" 2>&1 || fail "promtool: $(cat "$tmpdir/lint")"
[ ! -s "$tmpdir/lint" ] || fail "promtool warnings: $(cat "$tmpdir/lint")"
for m in vramd_build_info vramd_device_memory_bytes vramd_device_capacity_bytes \
         vramd_device_allocated_bytes vramd_device_written_bytes_total vramd_device_read_bytes_total \
         vramd_frontend_connections vramd_pinned_host_bytes process_start_time_seconds \
         process_resident_memory_bytes process_open_fds; do
  grep -q "^$m" "$tmpdir/m" || [ "$m" = vramd_frontend_connections -a $have_nbd = 0 ] || fail "no $m"
done
if [ $have_nbd = 1 ]; then
  for m in vramd_volume_size_bytes vramd_volume_read_bytes_total vramd_volume_written_bytes_total \
           vramd_volume_requests_total vramd_volume_errors_total 'vramd_volume_request_duration_seconds_bucket{volume="m0",op="write",le="+Inf"}' \
           'vramd_volume_info{volume="m0",frontend="nbd",layout="stripe",device_path="",disk=""} 1'; do
    grep -qF "$m" "$tmpdir/m" || fail "no $m"
  done
fi
pass "promtool check metrics is clean; device, volume, frontend and process metrics present"

# GPU series are labelled gpu, never device: node_exporter's device is a
# block device (vramd_volume_info's disk), and joins on it must not mix.
api GET /v1/devices; ndev=$(echo "$body" | jq '.devices | length')
[ "$(grep -c '^vramd_device_memory_bytes{gpu="[a-z0-9]*"} ' "$tmpdir/m")" = "$ndev" ] ||
  fail "vramd_device_memory_bytes is not labelled gpu for each of $ndev devices: $(grep memory_bytes "$tmpdir/m")"
grep -qx 'vramd_device_state{gpu="cpu0",state="active"} 1' "$tmpdir/m" || fail "no vramd_device_state{gpu=\"cpu0\"}"
! grep -E '^vramd_[a-z_]*\{(.*,)?device=' "$tmpdir/m" || fail "a vramd series has a device label (above)"
pass "the $ndev devices' series carry gpu=\"ID\", none a device label"

requires prometheus
[ $have_nbd = 1 ] || { echo "SKIP: no nbd frontend, Prometheus scrape of written bytes not tested"; exit 77; }
requires fio
pport=$(free_port)
cat >"$tmpdir/prom.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: vramd
    static_configs: [ { targets: ['127.0.0.1:$mport'] } ]
YML
prometheus --config.file="$tmpdir/prom.yml" --storage.tsdb.path="$tmpdir/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$tmpdir/prom.log" 2>&1 &
prom=$!
on_exit "kill $prom 2>/dev/null; wait $prom 2>/dev/null || true"

# Query Prometheus until it returns want for query q (30 s at most).
prom_wait() {
  local q=$1 want=$2
  for _ in $(seq 1 60); do
    v=$(curl -s --max-time 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$q" |
        jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
    [ "$v" = "$want" ] && return 0
    sleep 0.5
  done
  fail "Prometheus answers '$v' for $q, expected $want: $(tail -5 "$tmpdir/prom.log")"
}
prom_wait 'vramd_volume_size_bytes{volume="m0"}' 16777216
pass "a real Prometheus scrapes vramd on loopback"

# 12 MiB written by fio through NBD.
timeout 60 fio --name=w --ioengine=nbd --uri="nbd+unix:///m0?socket=$tmpdir/nbd.sock" \
  --rw=write --bs=64k --size=12M --iodepth=4 >"$tmpdir/fio.log" 2>&1 || fail "fio: $(cat "$tmpdir/fio.log")"
prom_wait 'vramd_volume_written_bytes_total{volume="m0"}' 12582912
pass "Prometheus reports the 12 MiB fio wrote through NBD"
