#!/bin/bash
# guest-attach.sh: vramctl volume attach and detach with kernel devices,
# run INSIDE the QEMU guest: sourced by guest-suite.sh, or run alone by
# `tests/kernel/check-kernel.sh guest-attach.sh`.  A volume made with no
# frontend becomes /dev/ublkbN or /dev/nbdN at a chosen index, carries a
# filesystem, refuses a detach while mounted or open (naming the use),
# detaches once free, keeps its contents for the next attach, and comes
# back attached after a restart.

# vramctl on the guest's daemon.
ctl() { "$(cat "$W/vramctl-path")" --socket "$W/api.sock" "$@"; }

# vramd for these steps, with a state folder of its own (the suite's
# other daemons must not recreate these volumes).
start_attach_vramd() { start_vramd "$W/attach.log" --state-dir "$W/attach-state"; }

# Modules, the daemon, two volumes with no frontend, and one made at a
# fixed ublk id with create --index.
t_attach_start() {
  modprobe ublk_drv && modprobe ext4 || return 1
  rm -rf "$W/attach-state"
  start_attach_vramd || return 1
  ctl volume create ua --size 32M --frontend none > /dev/null &&
    ctl volume create na --size 32M --frontend none > /dev/null || return 1
  ctl volume create uc --size 16M --frontend ublk --index 6 | tee "$W/uc.out"
  [ "$(tail -n 1 "$W/uc.out")" = /dev/ublkb6 ] && [ -b /dev/ublkb6 ] ||
    { echo "create --index 6 did not make /dev/ublkb6"; return 1; }
}

# detach NAME WANT: a detach without --force is refused with WANT in the
# message.
detach_refused() {
  if ctl volume detach "$1" 2> "$W/detach.err"; then
    echo "detach of $1 was accepted while in use"; return 1
  fi
  cat "$W/detach.err"
  grep -q -- "$2" "$W/detach.err" && grep -q -- "--force" "$W/detach.err" ||
    { echo "the refusal does not say '$2' and --force"; return 1; }
}

# attach NAME FRONTEND INDEX DEV: attach, file system, detach refused while
# mounted and while open, allowed once free; the contents are there after
# the next attach.
t_attach_kernel() {
  local vol=$1 fe=$2 idx=$3 dev=$4 out sum
  out=$(ctl volume attach "$vol" --frontend "$fe" --index "$idx") || return 1
  [ "$out" = "$dev" ] && [ -b "$dev" ] || { echo "attach printed '$out', not $dev"; return 1; }
  if ctl volume attach "$vol" --frontend "$fe" 2> "$W/attach.err"; then
    echo "a second attach was accepted"; return 1; fi
  grep -q "already attached ($dev)" "$W/attach.err" || { cat "$W/attach.err"; return 1; }
  ctl volume show "$vol" | grep -E "^(frontend|where):|kernel"
  ctl volume show "$vol" --json | jq -e --arg d "$dev" '.connections[0].kind == "kernel" and
    .connections[0].device == $d' > /dev/null || { echo "volume show lists no $dev"; return 1; }
  mkfs.ext4 -q -F "$dev" && mount "$dev" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/data bs=1M count=4 status=none && sync || return 1
  sum=$(md5 /mnt/kt/data)
  detach_refused "$vol" "$dev is mounted on /mnt/kt" || { umount /mnt/kt; return 1; }
  umount /mnt/kt || return 1
  exec 3< "$dev"
  detach_refused "$vol" "$dev is open by pid $$ " || return 1
  exec 3<&-
  ctl volume detach "$vol" || return 1
  for _ in $(seq 50); do dev_gone "$dev" && break; sleep 0.1; done
  dev_gone "$dev" || { echo "$dev is still there after detach"; return 1; }
  [ "$(ctl volume show "$vol" --json | jq -r .frontend)" = none ] || return 1
  [ "$(ctl volume attach "$vol" --frontend "$fe" --index "$idx")" = "$dev" ] || return 1
  mount "$dev" /mnt/kt || return 1
  [ "$(md5 /mnt/kt/data)" = "$sum" ] || { umount /mnt/kt; echo "contents changed"; return 1; }
  umount /mnt/kt
  echo "$dev: refused while mounted and while open, detached, attached again with its data"
}

# A restart brings every attachment back from the state file; then a
# forced detach of a mounted device takes it away.
t_attach_restart() {
  stop_vramd 60 || return 1
  start_attach_vramd || return 1
  [ -b /dev/ublkb5 ] && [ -b /dev/nbd12 ] && [ -b /dev/ublkb6 ] ||
    { grep "volume" "$W/attach.log"; echo "an attachment did not come back"; return 1; }
  grep -E "volume (ua|na|uc) is" "$W/attach.log"
  mkfs.ext4 -q -F /dev/ublkb5 && mount /dev/ublkb5 /mnt/kt || return 1
  ctl volume detach ua --force || { umount /mnt/kt; return 1; }
  umount /mnt/kt 2>/dev/null || umount -l /mnt/kt
  dev_gone /dev/ublkb5 || { echo "/dev/ublkb5 is still there after detach --force"; return 1; }
  for v in ua na uc; do ctl volume delete "$v" || return 1; done
  stop_vramd 60
}

# The steps, for guest-suite.sh or this script alone.
attach_steps() {
  if step attach_volumes_created_create_index 300 t_attach_start; then
    step attach_ublk_index_mkfs_detach_busy 180 t_attach_kernel ua ublk 5 /dev/ublkb5
    step attach_nbd_index_mkfs_detach_busy 180 t_attach_kernel na nbd 12 /dev/nbd12
    step attach_restart_keeps_then_force 300 t_attach_restart
  fi
  stop_vramd 60 > /dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  . "$(dirname "$(realpath "$0")")/guest-lib.sh"
  run_alone attach "$@"
fi
