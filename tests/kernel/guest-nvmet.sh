#!/bin/bash
# guest-nvmet.sh: NVMe/TCP exports (vramctl volume export) INSIDE the QEMU
# guest: sourced by guest-suite.sh, or run alone by
# `tests/kernel/check-kernel.sh guest-nvmet.sh`.  The kernel's target
# (nvmet, nvmet-tcp) serves striped ublk volumes and the kernel's
# initiator (nvme-tcp, with nvme-cli) connects to them over 127.0.0.1 in
# the same guest: two guests would not fit CI's time.  The commands of
# docs/scale-out.md are the ones run here.

# vramctl on the guest's daemon.
nctl() { "$(cat "$W/vramctl-path")" --socket "$W/api.sock" "$@"; }

PORT=4420
NVME_ROOT=/sys/kernel/config/nvmet
start_nvmet_vramd() { start_vramd "$W/nvmet.log" --state-dir "$W/nvmet-state"; }

# The block device of the namespace of subsystem $1 on this host, or "".
ns_of() {
  local s
  for s in /sys/class/nvme-subsystem/nvme-subsys* /sys/class/nvme/nvme*; do
    [ -r "$s/subsysnqn" ] && [ "$(cat "$s/subsysnqn")" = "$1" ] || continue
    ls "$s" | grep -E '^nvme[0-9]+n[0-9]+$' | head -n 1 | sed 's|^|/dev/|'
    return
  done
}

# wait_ns NQN: the namespace's device once it shows (20 s), else fail.
wait_ns() {
  local d
  for _ in $(seq 200); do d=$(ns_of "$1"); [ -n "$d" ] && [ -b "$d" ] && break; sleep 0.1; done
  [ -n "$d" ] && [ -b "$d" ] || { echo "no namespace of $1 appeared"; return 1; }
  echo "$d"
}

# Before nvmet is loaded, an export is refused with what to do.
t_nvmet_unloaded() {
  [ -d $NVME_ROOT ] && { echo "nvmet is already loaded"; exit 77; }
  modprobe ublk_drv && modprobe ext4 || return 1
  rm -rf "$W/nvmet-state"
  start_nvmet_vramd || return 1
  nctl volume create nv1 --size 64M --stripe all --frontend ublk > /dev/null || return 1
  if nctl volume export nv1 --nvme-tcp 127.0.0.1:$PORT --allow-any-host 2> "$W/ex.err"; then
    echo "export accepted without nvmet"; return 1; fi
  cat "$W/ex.err"
  grep -q "modprobe nvmet-tcp" "$W/ex.err" || return 1
  [ "$(nctl volume show nv1 --json | jq -r '.export // "none"')" = none ] ||
    { echo "a refused export was kept"; return 1; }
}

# Modules and configfs, the host NQNs, a second volume with no frontend.
t_nvmet_setup() {
  modprobe configfs || return 1
  mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config || return 1
  modprobe nvmet && modprobe nvmet-tcp && modprobe nvme-tcp || return 1
  # nvme gen-hostnqn derives one NQN from the machine's DMI uuid: two
  # hosts need two uuids of their own.
  echo "nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)" > "$W/hostnqn.ok"
  echo "nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)" > "$W/hostnqn.no"
  nctl volume create nv2 --size 64M --stripe all --frontend none > /dev/null
}

# Export with one allowed host; a bad NQN and a second export are refused.
t_nvmet_export() {
  local ok nqn; ok=$(cat "$W/hostnqn.ok")
  if nctl volume export nv1 --nvme-tcp 127.0.0.1:$PORT --host nqn.bad 2> "$W/ex.err"; then
    echo "a bad host NQN was accepted"; return 1; fi
  grep -q "not an NQN" "$W/ex.err" || { cat "$W/ex.err"; return 1; }
  nqn=$(nctl volume export nv1 --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  echo "$nqn" > "$W/nqn.nv1"
  echo "exported nv1 as $nqn"
  [ "$(cat $NVME_ROOT/subsystems/"$nqn"/attr_allow_any_host)" = 0 ] &&
    [ -L $NVME_ROOT/subsystems/"$nqn"/allowed_hosts/"$ok" ] &&
    [ "$(cat $NVME_ROOT/subsystems/"$nqn"/namespaces/1/device_path)" = "$(nctl volume show nv1 --json | jq -r .device_path)" ] ||
    { find $NVME_ROOT; return 1; }
  if nctl volume export nv1 --nvme-tcp 127.0.0.1:$PORT --host "$ok" 2> "$W/ex.err"; then
    echo "a second export was accepted"; return 1; fi
  grep -q "exported already" "$W/ex.err" || { cat "$W/ex.err"; return 1; }
  nctl volume show nv1 --json | jq -e '.export.live == true and .export.nvme_tcp == "127.0.0.1:4420"' > /dev/null ||
    { nctl volume show nv1 --json; return 1; }
  curl -s --unix-socket "$W/api.sock" http://vramd/metrics | grep "^vramd_volume_export_info" | tee "$W/m.out"
  grep -q "volume=\"nv1\",nqn=\"$nqn\",address=\"127.0.0.1:$PORT\"} 1" "$W/m.out"
}

# A host not on the list is refused; the allowed one connects, and ext4
# on the remote namespace keeps its files (md5) and passes fsck.
t_nvmet_connect() {
  local nqn d sum; nqn=$(cat "$W/nqn.nv1")
  if nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$(cat "$W/hostnqn.no")" 2>&1; then
    echo "a host not on the list connected"; nvme disconnect -n "$nqn"; return 1; fi
  [ -z "$(ns_of "$nqn")" ] || { echo "a namespace showed for the refused host"; return 1; }
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$(cat "$W/hostnqn.ok")" \
    --ctrl-loss-tmo=5 --reconnect-delay=1 || return 1
  d=$(wait_ns "$nqn") || return 1
  echo "$d" > "$W/ns.nv1"
  [ "$(blockdev --getsize64 "$d")" = 67108864 ] || { echo "$d is not 64 MiB"; return 1; }
  mkfs.ext4 -q -F "$d" && mount "$d" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/data bs=1M count=8 status=none && sum=$(md5 /mnt/kt/data)
  umount /mnt/kt && echo 3 > /proc/sys/vm/drop_caches && mount "$d" /mnt/kt || return 1
  [ "$(md5 /mnt/kt/data)" = "$sum" ] || { umount /mnt/kt; echo "md5 differs after remount"; return 1; }
  umount /mnt/kt && fsck.ext4 -fn "$d" > /dev/null || return 1
  # the same bytes through the volume's own device
  echo "$sum" > "$W/sum.nv1"
  echo "$d: ext4, 8 MiB file md5 $sum after remount, fsck clean"
}

# fio with verify through NVMe/TCP.
t_nvmet_fio() {
  command -v fio > /dev/null || { echo "fio is not installed"; exit 77; }
  FIO_MB=8 t_fio "$(cat "$W/ns.nv1")"
}

# A resize reaches the remote host (revalidate_size).  ublk devices
# cannot change size before Linux 6.16, so this is a /dev/nbdN volume.
t_nvmet_resize() {
  local ok nqn d; ok=$(cat "$W/hostnqn.ok")
  modprobe nbd || return 1
  nctl volume create nr --size 32M --frontend nbd --attach > /dev/null || return 1
  nqn=$(nctl volume export nr --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$ok" || return 1
  d=$(wait_ns "$nqn") || return 1
  nctl volume resize nr --size 48M > /dev/null || return 1
  for _ in $(seq 100); do [ "$(blockdev --getsize64 "$d")" = 50331648 ] && break; sleep 0.2; done
  [ "$(blockdev --getsize64 "$d")" = 50331648 ] || { echo "$d is $(blockdev --getsize64 "$d") bytes after resize to 48M"; return 1; }
  nvme disconnect -n "$nqn" > /dev/null
  nctl volume delete nr --force > /dev/null || return 1
  echo "$d grew from 32 to 48 MiB on the remote side"
}

# A delete of an exported volume is refused; unexport while connected:
# the host loses the path, nothing stays in configfs or the state file.
t_nvmet_unexport() {
  local nqn d; nqn=$(cat "$W/nqn.nv1"); d=$(cat "$W/ns.nv1")
  if nctl volume delete nv1 2> "$W/del.err"; then echo "delete of an exported volume"; return 1; fi
  grep -q "unexport it first" "$W/del.err" || { cat "$W/del.err"; return 1; }
  nctl volume unexport nv1 || return 1
  for _ in $(seq 300); do [ -z "$(ns_of "$nqn")" ] && break; sleep 0.1; done
  [ -z "$(ns_of "$nqn")" ] || { echo "$d is still there 30 s after unexport"; return 1; }
  nvme disconnect -n "$nqn" > /dev/null 2>&1
  [ ! -e $NVME_ROOT/subsystems/"$nqn" ] && [ -z "$(ls $NVME_ROOT/ports)" ] &&
    [ -z "$(ls $NVME_ROOT/hosts)" ] || { find $NVME_ROOT; return 1; }
  ! grep -q '"export"' "$W/nvmet-state/volumes.json" || { cat "$W/nvmet-state/volumes.json"; return 1; }
  echo "after unexport: $d gone, configfs empty, no export saved"
}

# An export of a volume with no device attaches one; it is saved, taken
# down at stop and made again at start.
t_nvmet_restart() {
  local ok nqn d; ok=$(cat "$W/hostnqn.ok")
  nqn=$(nctl volume export nv2 --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  nctl volume show nv2 --json | jq -e '.frontend == "ublk" and .export.live' > /dev/null || return 1
  stop_vramd 60 || return 1
  [ ! -e $NVME_ROOT/subsystems/"$nqn" ] || { echo "the export outlived vramd"; return 1; }
  grep "nv2" "$W/nvmet.log" | grep -i export
  start_nvmet_vramd || return 1
  grep "volume nv2: exported again" "$W/nvmet.log" || return 1
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$ok" || return 1
  d=$(wait_ns "$nqn") || return 1
  [ "$(blockdev --getsize64 "$d")" = 67108864 ] || return 1
  nvme disconnect -n "$nqn" > /dev/null || return 1
  echo "$nqn came back after a restart as $d"
}

# export_connect VOL [NVME-CONNECT OPTIONS...]: a 32 MiB striped ublk
# volume, exported to the allowed host and connected; its namespace.
export_connect() {
  local v=$1 ok nqn; ok=$(cat "$W/hostnqn.ok"); shift
  nctl volume create "$v" --size 32M --stripe all --frontend ublk > /dev/null || return 1
  nqn=$(nctl volume export "$v" --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$ok" "$@" > /dev/null || return 1
  wait_ns "$nqn"
}

# md RAID0 over two exported volumes (docs/scale-out.md).
t_nvmet_md() {
  local v d devs=() sum
  command -v mdadm > /dev/null || { echo "mdadm is not installed: md RAID0 over two exports not tested"; exit 77; }
  modprobe raid0 || return 1
  for v in md1 md2; do
    d=$(export_connect $v) || return 1
    devs+=("$d")
  done
  mdadm --create /dev/md/vramd --run --level=0 --raid-devices=2 "${devs[@]}" || return 1
  mkfs.ext4 -q -F /dev/md/vramd && mount /dev/md/vramd /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/data bs=1M count=8 status=none && sum=$(md5 /mnt/kt/data)
  umount /mnt/kt && mdadm --stop /dev/md/vramd || return 1
  mdadm --assemble /dev/md/vramd "${devs[@]}" && mount /dev/md/vramd /mnt/kt || return 1
  [ "$(md5 /mnt/kt/data)" = "$sum" ] || { umount /mnt/kt; echo "md5 differs"; return 1; }
  umount /mnt/kt && mdadm --stop /dev/md/vramd || return 1
  for v in md1 md2; do
    nvme disconnect -n "$(nctl volume show $v --json | jq -r .export.nqn)" > /dev/null
    nctl volume unexport $v > /dev/null && nctl volume delete $v > /dev/null || return 1
  done
  echo "md RAID0 over ${devs[*]}: 8 MiB file md5 $sum after stop and assemble"
}

# md RAID1 over two exports survives one of them going (its host dying:
# here an unexport while connected), as docs/scale-out.md says.
t_nvmet_md1() {
  local ok v nqn d devs=() sum; ok=$(cat "$W/hostnqn.ok")
  command -v mdadm > /dev/null || { echo "mdadm is not installed: md RAID1 not tested"; exit 77; }
  modprobe raid1 || return 1
  for v in mr1 mr2; do
    d=$(export_connect $v --ctrl-loss-tmo=5 --reconnect-delay=1) || return 1
    devs+=("$d")
  done
  mdadm --create /dev/md/vramd1 --run --level=1 --raid-devices=2 --assume-clean "${devs[@]}" || return 1
  mkfs.ext4 -q -F /dev/md/vramd1 && mount /dev/md/vramd1 /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/data bs=1M count=8 status=none && sum=$(md5 /mnt/kt/data)
  sync
  # The second host goes away: md fails that leg and serves on.
  nctl volume unexport mr2 > /dev/null || return 1
  for _ in $(seq 300); do grep -q '_]\|\[U_\|\[_U' /proc/mdstat && break; dd if=/dev/md/vramd1 of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; sleep 0.1; done
  echo 3 > /proc/sys/vm/drop_caches
  [ "$(md5 /mnt/kt/data)" = "$sum" ] || { umount /mnt/kt; echo "md5 differs after a leg went"; return 1; }
  dd if=/dev/urandom of=/mnt/kt/more bs=1M count=2 status=none && sync || return 1
  grep -A1 '^md' /proc/mdstat
  # The host back: an empty volume again, added to the array and rebuilt.
  nqn=$(nctl volume export mr2 --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$ok" || return 1
  d=$(wait_ns "$nqn") || return 1
  mdadm /dev/md/vramd1 --remove failed > /dev/null 2>&1
  mdadm /dev/md/vramd1 --remove detached > /dev/null 2>&1
  mdadm /dev/md/vramd1 --add "$d" || return 1
  for _ in $(seq 1200); do grep -q '\[UU\]' /proc/mdstat && ! grep -q recovery /proc/mdstat && break; sleep 0.1; done
  grep -q '\[UU\]' /proc/mdstat || { cat /proc/mdstat; echo "the array did not rebuild onto $d"; return 1; }
  grep -A1 '^md' /proc/mdstat
  umount /mnt/kt && fsck.ext4 -fn /dev/md/vramd1 > /dev/null || return 1
  mdadm --stop /dev/md/vramd1 || return 1
  for v in mr1 mr2; do
    nvme disconnect -n "$(nctl volume show $v --json | jq -r '.export.nqn // empty')" > /dev/null 2>&1
    nctl volume unexport $v > /dev/null 2>&1
    nctl volume delete $v > /dev/null || return 1
  done
  echo "md RAID1 over ${devs[*]}: one export gone, md5 held, writes went on; rebuilt onto $d, fsck clean"
}

# DH-HMAC-CHAP: a host given a key (nvme gen-dhchap-key) connects with
# the secret and is refused without it.  A host NQN of its own: the
# kernel keeps one secret per host entry.
t_nvmet_dhchap() {
  local host nqn d key
  host="nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)"
  key=$(nvme gen-dhchap-key --nqn "$host") || { echo "this nvme-cli makes no DH-HMAC-CHAP keys"; exit 77; }
  ( umask 077 && echo "$key" > "$W/chap.key" )
  nctl volume create nc --size 32M --stripe all --frontend ublk > /dev/null || return 1
  nqn=$(nctl volume export nc --nvme-tcp 127.0.0.1:$PORT --host "$host" --dhchap-key "$W/chap.key") ||
    return 1
  [ "$(cat $NVME_ROOT/hosts/"$host"/dhchap_key)" = "$key" ] || { echo "the host entry has no key"; return 1; }
  if nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$host" 2>&1; then
    echo "connected without the secret"; nvme disconnect -n "$nqn"; return 1; fi
  [ -z "$(ns_of "$nqn")" ] || { echo "a namespace showed without the secret"; return 1; }
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$host" --dhchap-secret "$key" ||
    return 1
  d=$(wait_ns "$nqn") || return 1
  dd if=/dev/urandom of="$W/chap.in" bs=1M count=4 status=none
  dd if="$W/chap.in" of="$d" bs=1M oflag=direct status=none &&
    cmp -n 4194304 "$W/chap.in" "$d" || { echo "data differs through $d"; return 1; }
  nvme disconnect -n "$nqn" > /dev/null
  nctl volume unexport nc && nctl volume delete nc > /dev/null || return 1
  [ ! -e $NVME_ROOT/hosts/"$host" ] || { echo "the keyed host entry stayed"; return 1; }
  echo "DH-HMAC-CHAP: refused without the secret, served with it ($d)"
}

# NVMe/TCP against the volume's own device, in the same guest: TCG makes
# absolute figures meaningless, so this prints ratios (no pass mark).
t_nvmet_relative() {
  local ok nqn d dev r
  command -v fio > /dev/null || { echo "fio is not installed"; exit 77; }
  ok=$(cat "$W/hostnqn.ok")
  nctl volume create np --size 64M --stripe all --frontend ublk > /dev/null || return 1
  dev=$(nctl volume show np --json | jq -r .device_path)
  nqn=$(nctl volume export np --nvme-tcp 127.0.0.1:$PORT --host "$ok") || return 1
  nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "$nqn" --hostnqn "$ok" > /dev/null || return 1
  d=$(wait_ns "$nqn") || return 1
  # fio_rate FILE JOB...: read IOPS and MB/s of one short job on FILE.
  fio_rate() {
    fio --name=r --filename="$1" --direct=1 --time_based --runtime=3 --output-format=json \
      "${@:2}" | jq -r '.jobs[0].read | "\(.iops) \(.bw_bytes)"'
  }
  for job in "--rw=randread --bs=4k --iodepth=1" "--rw=read --bs=1M --iodepth=8 --ioengine=libaio"; do
    read -r li lb < <(fio_rate "$dev" $job) || return 1
    read -r ri rb < <(fio_rate "$d" $job) || return 1
    r=$(awk -v a="$ri" -v b="$li" 'BEGIN { printf "%.2f", a / b }')
    echo "$job: $dev $(printf %.0f "$li") IOPS, NVMe/TCP $d $(printf %.0f "$ri") IOPS: $r of local"
  done
  nvme disconnect -n "$nqn" > /dev/null
  nctl volume unexport np && nctl volume delete np > /dev/null
}

# A forced delete of an exported volume takes the export down first.
t_nvmet_delete() {
  local nqn; nqn=$(nctl volume show nv2 --json | jq -r .export.nqn)
  nctl volume delete nv2 --force > /dev/null || return 1
  [ ! -e $NVME_ROOT/subsystems/"$nqn" ] || { find $NVME_ROOT; return 1; }
  nctl volume delete nv1 --force > /dev/null || return 1
  [ -z "$(ls $NVME_ROOT/ports)$(ls $NVME_ROOT/subsystems)$(ls $NVME_ROOT/hosts)" ] || { find $NVME_ROOT; return 1; }
  stop_vramd 60
}

# The steps, for guest-suite.sh or this script alone.
nvmet_steps() {
  if step nvmet_refused_before_modprobe 300 t_nvmet_unloaded &&
     step nvmet_modules_configfs 60 t_nvmet_setup; then
    if step nvmet_export_allowed_host_bad_nqn_metrics 60 t_nvmet_export &&
       step nvmet_connect_refused_host_ext4_md5_fsck 180 t_nvmet_connect; then
      step nvmet_fio_verify 300 t_nvmet_fio
      step nvmet_delete_refused_unexport_connected 90 t_nvmet_unexport
    fi
    step nvmet_resize_revalidates_remote 120 t_nvmet_resize
    step nvmet_export_attaches_survives_restart 300 t_nvmet_restart
    step nvmet_md_raid0_two_exports 120 t_nvmet_md
    step nvmet_md_raid1_survives_an_export_going 300 t_nvmet_md1
    step nvmet_dhchap_secret_required 120 t_nvmet_dhchap
    step nvmet_relative_to_local_device 120 t_nvmet_relative
    step nvmet_delete_forced_unexports 60 t_nvmet_delete
  fi
  stop_vramd 60 > /dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  . "$(dirname "$(realpath "$0")")/guest-lib.sh"
  run_alone nvmet "$@"
fi
