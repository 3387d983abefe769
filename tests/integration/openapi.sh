#!/usr/bin/env bash
# openapi: docs/openapi.json says what the server answers, and no more.
# vramd (VRAMD_FAULTS=1, for the sleep job) with a thick, a thin and a
# detached volume, NBD clients on Unix and TCP, a drained device and jobs
# in every state is asked on every route, answers good and bad; then
# openapi-check.py holds each answer against the document (every field,
# arrays' items included, in the schema for its route and status; every
# documented field seen), compares the document's routes with the list
# below, probes 405 and 404, and compares request bodies' fields with
# the server's "known fields".
. "$(dirname "$0")/functions.sh"
requires jq
requires python3
top=$(cd "$(dirname "$0")/../.." && pwd)
export VRAMD_FAULTS=1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_vramd --nbd-listen "127.0.0.1:$port"
rec=$tmpdir/answers
mkdir "$rec"

# The routes the server answers (api/server.c's route()), as METHOD ROUTE.
cat >"$tmpdir/routes" <<'EOF'
GET /v1
GET /v1/pool
GET /v1/devices
GET /v1/devices/{id}
PATCH /v1/devices/{id}
POST /v1/devices/{id}/drain
POST /v1/devices/{id}/undrain
GET /v1/volumes
POST /v1/volumes
GET /v1/volumes/{name}
PATCH /v1/volumes/{name}
DELETE /v1/volumes/{name}
POST /v1/volumes/{name}/attach
POST /v1/volumes/{name}/detach
POST /v1/volumes/{name}/export
DELETE /v1/volumes/{name}/export
POST /v1/volumes/{name}/rebalance
POST /v1/volumes/{name}/scrub
POST /v1/volumes/{name}/repair
POST /v1/volumes/{name}/save
POST /v1/volumes/{name}/restore
GET /v1/jobs
GET /v1/jobs/{id}
DELETE /v1/jobs/{id}
POST /v1/faults
GET /metrics
GET /healthz
EOF
# Fields no answer here can carry, with why.
cat >"$tmpdir/exempt" <<'EOF'
Volume.index only a kernel device has an index: tests/kernel/guest-attach.sh
Volume.device_connections only a kernel-attached /dev/nbdN: tests/kernel/guest-nbd.sh
Connection.device a kernel client (ublk or /dev/nbdN): tests/kernel
JobId.id only a job forgotten before its 202 was made (64 newer ones ended meanwhile)
Volume.persist only a volume created with persist (root only): tests/integration/persist.sh
VolumeDetail.persist only a volume created with persist (root only): tests/integration/persist.sh
POST:/v1/volumes/{name}/export needs the kernel's nvmet and a kernel device: tests/kernel/guest-nvmet.sh
DELETE:/v1/volumes/{name}/export needs an export made: tests/kernel/guest-nvmet.sh
Volume.export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
VolumeDetail.export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.nqn an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.nvme_tcp an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.hosts an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.allow_any_host an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.live an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
Export.nvmet_port an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
ExportHost.nqn an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
ExportHost.key_file an export needs the kernel's nvmet: tests/kernel/guest-nvmet.sh
EOF
api GET /v1
echo "$body" | jq -e '.frontends | index("ublk")' >/dev/null ||
  echo "PinnedHost.ublk this build has no ublk frontend" >>"$tmpdir/exempt"

n=0
# call METHOD ROUTE PATH [curl args]: ask, keep the answer for the check;
# sets $status and $body as api does.
call() {
  local m=$1 r=$2 p=$3
  shift 3
  n=$((n + 1))
  printf '%s\t%s\t%s\n' "$m" "$r" "$p" >"$rec/$n.meta"
  status=$(curl -s -o "$rec/$n.body" -D "$rec/$n.hdr" -w '%{http_code}' --max-time 30 \
    --path-as-is --unix-socket "$tmpdir/api.sock" -X "$m" "$@" "http://localhost$p") || status=000
  body=$(cat "$rec/$n.body")
}
# wait_job ID STATE: poll the job until it is in STATE (20 s at most).
wait_job() {
  for _ in $(seq 1 200); do
    call GET /v1/jobs/{id} "/v1/jobs/$1"
    [ "$(echo "$body" | jq -r .state)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "job $1 is not $2 after 20 s: $body"
}

# The daemon, the pool, devices.
for r in /v1 /v1/pool /v1/devices /healthz /metrics; do call GET "$r" "$r"; expect 200 "GET $r"; done
call GET /v1 /v1/; expect 200 "GET /v1/"
call GET /v1/devices/{id} /v1/devices/cpu0; expect 200 "GET cpu0"
call GET /v1/devices/{id} /v1/devices/nope; expect 404 "GET nope" no_such_device
call GET /v1/devices/{id} /v1/devices/a%00b; expect 400 "GET a%00b" invalid_id

# Volumes: thick striped, thin concat, one not exposed; refusals.
call POST /v1/volumes /v1/volumes -d '{"name":"thick","size":8388608}'; expect 201 "create thick"
call POST /v1/volumes /v1/volumes -d '{"name":"thin","size":8388608,"layout":"concat","provisioning":"thin"}'
expect 201 "create thin"
call POST /v1/volumes /v1/volumes -d '{"name":"quiet","size":4194304,"frontend":"none"}'; expect 201 "create quiet"
call POST /v1/volumes /v1/volumes -d '{"name":"sums","size":4194304,"integrity":"crc32c"}'
expect 201 "create with checksums"
call POST /v1/volumes /v1/volumes -d '{"name":"par","size":4194304,"integrity":"crc32c+parity"}'
expect 201 "create with parity"
call POST /v1/volumes /v1/volumes -d '{"name":"thick","size":8388608}'; expect 409 "create thick again" volume_exists
call POST /v1/volumes /v1/volumes -d '{"name":"big","size":1125899906842624}'; expect 507 "create 1 PiB" no_space
call POST /v1/volumes /v1/volumes -d '{"name":"x","size":"lots"}'; expect 400 "size lots" invalid_field
call POST /v1/volumes /v1/volumes -d '{"name":"x","size":1,"colour":"red"}'; expect 400 "colour" unknown_field
call POST /v1/volumes /v1/volumes -d "{\"name\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}"
expect 413 "a 70 KB body" body_too_large
call GET /v1/volumes /v1/volumes; expect 200 "list"
call GET /v1/volumes/{name} /v1/volumes/thin; expect 200 "GET thin"
call GET /v1/volumes/{name} /v1/volumes/nope; expect 404 "GET nope" no_such_volume
call GET /v1/volumes/{name} /v1/volumes/BAD; expect 400 "GET BAD" invalid_name
call POST /v1/volumes /v1/volumes?job=true -d '{"name":"later","size":4194304}'; expect 202 "create as a job"
call POST /v1/volumes /v1/volumes?job=maybe -d '{"name":"later2","size":4194304}'; expect 400 "?job=maybe" invalid_query

# Save, restore, create from an image.
call POST /v1/volumes/{name}/save /v1/volumes/thick/save -d "{\"path\":\"$tmpdir/thick.img\"}"
expect 202 "save thick"; wait_job "$(echo "$body" | jq .id)" done
call POST /v1/volumes/{name}/save /v1/volumes/thick/save -d '{"path":"rel.img"}'; expect 400 "a relative path" invalid_field
call POST /v1/volumes/{name}/save /v1/volumes/thick/save -d '{}'; expect 400 "no path" missing_field
call POST /v1/volumes/{name}/restore /v1/volumes/thick/restore -d "{\"path\":\"$tmpdir/thick.img\"}"
expect 202 "restore thick"; wait_job "$(echo "$body" | jq .id)" done
call POST /v1/volumes/{name}/restore /v1/volumes/thick/restore -d "{\"path\":\"$tmpdir/none.img\"}"
expect 404 "restore from nothing" not_found
call POST /v1/volumes /v1/volumes -d "{\"name\":\"fromimg\",\"from\":\"$tmpdir/thick.img\"}"
expect 202 "create from an image"; wait_job "$(echo "$body" | jq .id)" done

# Resize: grow, shrink refused and forced, refusals.
call PATCH /v1/volumes/{name} /v1/volumes/thin -d '{"grow_bytes":8388608}'; expect 200 "grow thin"
call PATCH /v1/volumes/{name} /v1/volumes/thin -d '{"size":8388608}'; expect 409 "shrink" shrink_needs_force
call PATCH /v1/volumes/{name} '/v1/volumes/thin?force=true' -d '{"size":8388608}'; expect 200 "shrink forced"
call PATCH /v1/volumes/{name} /v1/volumes/nope -d '{"size":8388608}'; expect 404 "resize nope" no_such_volume
call PATCH /v1/volumes/{name} /v1/volumes/thin -d '{"size":"big"}'; expect 400 "size big" invalid_field
call PATCH /v1/volumes/{name} /v1/volumes/thick -d '{"size":1125899906842624}'; expect 507 "grow to 1 PiB" no_space

# Attach and detach.
call POST /v1/volumes/{name}/attach /v1/volumes/quiet/attach -d '{"frontend":"nbd"}'; expect 200 "attach"
call POST /v1/volumes/{name}/attach /v1/volumes/quiet/attach -d '{"frontend":"nbd"}'; expect 409 "again" volume_attached
call POST /v1/volumes/{name}/attach /v1/volumes/nope/attach -d '{"frontend":"nbd"}'; expect 404 "nope" no_such_volume
call POST /v1/volumes/{name}/attach /v1/volumes/quiet/attach -d '{"frontend":"x"}'; expect 400 "frontend x" invalid_field
call POST /v1/volumes/{name}/detach /v1/volumes/quiet/detach -d '{}'; expect 400 "detach with a body" invalid_json
call POST /v1/volumes/{name}/detach /v1/volumes/quiet/detach; expect 204 "detach"
call POST /v1/volumes/{name}/detach /v1/volumes/quiet/detach; expect 409 "detach again" volume_detached

# NVMe/TCP export: refusals (the kernel target: tests/kernel/guest-nvmet.sh).
call POST /v1/volumes/{name}/export /v1/volumes/nope/export -d '{"nvme_tcp":"127.0.0.1:4420","allow_any_host":true}'
expect 404 "export nope" no_such_volume
call POST /v1/volumes/{name}/export /v1/volumes/thick/export -d '{"nvme_tcp":"127.0.0.1"}'; expect 400 "no port" invalid_field
call POST /v1/volumes/{name}/export /v1/volumes/thick/export -d '{"nvme_tcp":"127.0.0.1:4420"}'; expect 400 "no hosts" missing_field
call POST /v1/volumes/{name}/export /v1/volumes/thick/export -d '{"nvme_tcp":"127.0.0.1:4420","hosts":[{"nqn":"x"}]}'
expect 400 "bad NQN" invalid_field
if [ ! -d /sys/kernel/config/nvmet ]; then
  call POST /v1/volumes/{name}/export /v1/volumes/thick/export -d '{"nvme_tcp":"127.0.0.1:4420","allow_any_host":true}'
  expect 503 "export without nvmet" nvmet_unavailable
fi
call DELETE /v1/volumes/{name}/export /v1/volumes/thick/export; expect 409 "unexport" volume_not_exported
call DELETE /v1/volumes/{name}/export /v1/volumes/nope/export; expect 404 "unexport nope" no_such_volume

# Clients on Unix and TCP, held open while the volume is shown.
python3 - "$tmpdir/nbd.sock" "$port" <<'EOF' >"$tmpdir/holder" &
import socket, struct, sys, time
def hold(s):
    s.recv(18)
    s.sendall(struct.pack(">I", 1))
    name = b"thick"
    s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 4 + len(name) + 2) +
              struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    while True:  # option replies until ACK
        hdr = b""
        while len(hdr) < 20:
            hdr += s.recv(20 - len(hdr))
        _, _, typ, ln = struct.unpack(">QIII", hdr)
        while ln:
            ln -= len(s.recv(ln))
        if typ == 1:
            return s
u = socket.socket(socket.AF_UNIX); u.connect(sys.argv[1])
t = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
held = [hold(u), hold(t)]
print("held", flush=True)
time.sleep(30)
EOF
holder=$!
on_exit "kill $holder 2>/dev/null"
for _ in $(seq 1 100); do grep -q held "$tmpdir/holder" && break; sleep 0.1; done
call GET /v1/volumes/{name} /v1/volumes/thick; expect 200 "GET thick with clients"
echo "$body" | jq -e '[.connections[].kind] | sort == ["tcp", "unix"]' >/dev/null ||
  fail "thick's clients are not one unix and one tcp: $body"
call DELETE /v1/volumes/{name} /v1/volumes/thick; expect 409 "delete in use" volume_in_use
call DELETE /v1/volumes/{name} '/v1/volumes/thick?force=maybe'; expect 400 "force=maybe" invalid_query
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

# Devices: patch, drain (a job), undrain, rebalance; refusals.
call PATCH /v1/devices/{id} /v1/devices/cpu1 -d '{"yield_floor_bytes":0}'; expect 200 "patch"
call PATCH /v1/devices/{id} /v1/devices/cpu1 -d '{}'; expect 400 "empty patch" missing_field
call PATCH /v1/devices/{id} /v1/devices/nope -d '{"reserve_bytes":0}'; expect 404 "patch nope" no_such_device
call POST /v1/devices/{id}/drain /v1/devices/cpu1/drain; expect 202 "drain cpu1"
wait_job "$(echo "$body" | jq -r .id)" done
call POST /v1/devices/{id}/drain /v1/devices/cpu1/drain; expect 409 "drain drained" busy_device
call POST /v1/devices/{id}/drain /v1/devices/nope/drain; expect 404 "drain nope" not_found
call GET /v1/devices /v1/devices; expect 200 "devices with one drained"
echo "$body" | jq -e '.devices[] | select(.id == "cpu1") | .state == "drained"' >/dev/null ||
  fail "cpu1 is not drained: $body"
call POST /v1/devices/{id}/undrain /v1/devices/cpu1/undrain; expect 200 "undrain"
call POST /v1/devices/{id}/undrain /v1/devices/nope/undrain; expect 404 "undrain nope" not_found
call POST /v1/volumes/{name}/rebalance /v1/volumes/thick/rebalance; expect 202 "rebalance"
wait_job "$(echo "$body" | jq -r .id)" done
call POST /v1/volumes/{name}/rebalance /v1/volumes/nope/rebalance; expect 404 "rebalance nope" not_found
call POST /v1/volumes/{name}/scrub /v1/volumes/sums/scrub; expect 202 "scrub"
wait_job "$(echo "$body" | jq -r .id)" done
call GET /v1/volumes/{name} /v1/volumes/sums; expect 200 "GET sums, scrubbed"
call POST /v1/volumes/{name}/scrub /v1/volumes/thick/scrub; expect 409 "scrub thick" no_checksums
call POST /v1/volumes/{name}/scrub /v1/volumes/nope/scrub; expect 404 "scrub nope" not_found
# A mirror (its copies shown), and repair's refusals: the repair itself is
# tests/integration/mirror.sh's.
call POST /v1/volumes /v1/volumes -d '{"name":"mir","size":4194304,"layout":"mirror","devices":["cpu0","cpu1"],"copies":2,"integrity":"crc32c"}'
expect 201 "create mir"
call GET /v1/volumes/{name} /v1/volumes/mir; expect 200 "GET mir"
call POST /v1/volumes/{name}/repair /v1/volumes/mir/repair; expect 409 "repair in sync" nothing_to_repair
call POST /v1/volumes/{name}/repair /v1/volumes/thin/repair; expect 400 "repair thin" not_a_mirror
call POST /v1/volumes/{name}/repair /v1/volumes/nope/repair; expect 404 "repair nope" not_found
call POST /v1/volumes/{name}/repair /v1/volumes/mir/repair -d '{"disk":"x"}'; expect 400 "repair disk" unknown_field
# A write whose part on one copy fails (the io fault) leaves mir degraded,
# and a repair rebuilds that copy on its own device.
call POST /v1/faults /v1/faults -d '{"io_after":1}'; expect 204 "io fault"
python3 - "$tmpdir/nbd.sock" <<'EOF' || fail "a write to mir failed"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(18)
s.sendall(struct.pack(">I", 1))
name = b"mir"
s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 4 + len(name) + 2) +
          struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
while True:
    hdr = b""
    while len(hdr) < 20:
        hdr += s.recv(20 - len(hdr))
    _, _, typ, ln = struct.unpack(">QIII", hdr)
    while ln:
        ln -= len(s.recv(ln))
    if typ == 1:
        break
s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 7, 0, 4096) + b"\x5a" * 4096)
rep = b""
while len(rep) < 16:
    rep += s.recv(16 - len(rep))
sys.exit(struct.unpack(">IIQ", rep)[1])
EOF
call GET /v1/volumes/{name} /v1/volumes/mir; expect 200 "GET mir degraded"
[ "$(echo "$body" | jq -r '[.state, .copies_healthy] | join(",")')" = "degraded,1" ] || fail "mir: $body"
call POST /v1/volumes/{name}/repair /v1/volumes/mir/repair; expect 202 "repair mir"
wait_job "$(echo "$body" | jq -r .id)" done
call DELETE /v1/volumes/{name} /v1/volumes/mir; expect 204 "delete mir"
# A reserve that takes the whole device, with drain: a reserve job.
call GET /v1/devices/{id} /v1/devices/cpu0
total=$(echo "$body" | jq -r .total_bytes)
call PATCH /v1/devices/{id} /v1/devices/cpu0 -d "{\"reserve_bytes\":$total,\"drain\":true}"
expect 202 "reserve with drain"
wait_job "$(echo "$body" | jq -r .id)" done
call PATCH /v1/devices/{id} /v1/devices/cpu0 -d '{"reserve_bytes":0}'; expect 200 "reserve 0"

# Jobs: running, cancelled, failed; refusals.
call POST /v1/faults /v1/faults -d '{"sleep_job":{"seconds":30,"bytes":1048576}}'; expect 202 "sleep job"
id=$(echo "$body" | jq -r .id)
call GET /v1/jobs /v1/jobs; expect 200 "jobs"
call GET /v1/jobs/{id} "/v1/jobs/$id"; expect 200 "job"
call DELETE /v1/jobs/{id} "/v1/jobs/$id"; expect 202 "cancel"
wait_job "$id" cancelled
call DELETE /v1/jobs/{id} "/v1/jobs/$id"; expect 409 "cancel again" job_finished
call POST /v1/faults /v1/faults -d '{"sleep_job":{"seconds":0,"bytes":0,"error":"as asked"}}'
expect 202 "failing job"
wait_job "$(echo "$body" | jq -r .id)" failed
call GET /v1/jobs/{id} /v1/jobs/01; expect 400 "job 01" invalid_id
call GET /v1/jobs/{id} /v1/jobs/999; expect 404 "job 999" no_such_job
call POST /v1/faults /v1/faults -d '{}'; expect 204 "no faults"
call POST /v1/faults /v1/faults -d '{"bogus":1}'; expect 400 "bogus fault" invalid_field
call POST /v1/faults /v1/faults -d '{"bit_flips":{"volume":"sums","count":2,"seed":1}}'
expect 200 "bit flips"
call POST /v1/faults /v1/faults -d '{"bit_flips":{"volume":"nope","offsets":[0]}}'
expect 404 "bit flips in nope" no_such_volume

# Deletes.
call DELETE /v1/volumes/{name} /v1/volumes/thin; expect 204 "delete thin"
call DELETE /v1/volumes/{name} /v1/volumes/sums; expect 204 "delete sums"
call DELETE /v1/volumes/{name} '/v1/volumes/quiet?force=true'; expect 204 "delete quiet"
call DELETE /v1/volumes/{name} /v1/volumes/nope; expect 404 "delete nope" no_such_volume

timeout 120 python3 "$top/tests/integration/openapi-check.py" "$top/docs/openapi.json" "$rec" \
  "$tmpdir/api.sock" "$tmpdir/routes" "$tmpdir/exempt" || fail "docs/openapi.json and the server disagree (above)"
pass "docs/openapi.json: $n answers and every route, field, method and request field agree"
