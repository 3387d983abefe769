#!/bin/bash
# vmtest.sh: run a script as root in a throw-away QEMU (TCG) guest that boots
# Debian's 6.12 kernel (it has ublk_drv and nbd, which the hosts we build on
# lack) on the host's own root filesystem: read-only 9p with a tmpfs overlay,
# so everything installed or built on the host runs in the guest at the same
# path.  Results come back through a writable 9p share.
#
#   vmtest.sh check                  can qemu boot at all? exit 0, or 77 and why
#   vmtest.sh build                  fetch the kernel, build modules + initramfs
#   vmtest.sh run SCRIPT [ARGS...]   run SCRIPT in the guest; exit = its status
#
# Environment: VM_CACHE (kernel and initramfs, reused between runs),
# VM_OUT (run directory; default a new one under $VM_CACHE/out), VM_SMP (2),
# VM_MEM (2G), VM_TIMEOUT (seconds for the whole boot, 900), KVER (pin the
# kernel version).  TCG only: KVM hangs on the machines this was made on.
set -u
VM_CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vramd-vmtest}
B=$VM_CACHE/build
VM_SMP=${VM_SMP:-2}; VM_MEM=${VM_MEM:-2G}; VM_TIMEOUT=${VM_TIMEOUT:-900}
INITRD_MODS="netfs 9pnet 9pnet_virtio 9p overlay"
GUEST_MODS="nbd ublk_drv ext4 crc32c_generic crc32c_intel nvmet nvmet-tcp nvme-tcp nvme-fabrics nvme-core raid0 raid1"

log() { echo "[vmtest] $*" >&2; }

# The newest Debian 6.12 kernel package apt knows of (it ships nbd and ublk_drv).
pick_kernel() {
  [ -n "${KVER:-}" ] && return 0
  KVER=$(cat "$B/.kver" 2>/dev/null)
  [ -n "$KVER" ] && return 0
  KVER=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb12-amd64-unsigned$' 2>/dev/null |
    awk '{print $1}' | sed 's/^linux-image-//; s/-unsigned$//' | sort -V | tail -1)
  [ -n "$KVER" ] || { log "no linux-image-6.12.*-amd64-unsigned package known to apt (run apt-get update)"; return 1; }
  mkdir -p "$B" && echo "$KVER" > "$B/.kver"
}

# Download and unpack the kernel package once.
ensure_kernel() {
  pick_kernel || return 1
  KDIR=$B/kroot
  if [ ! -f "$KDIR/boot/vmlinuz-$KVER" ]; then
    local pkg=linux-image-${KVER}-unsigned
    log "fetching $pkg with apt-get download"
    rm -rf "$B/deb" && mkdir -p "$B/deb" || return 1
    (cd "$B/deb" && apt-get download "$pkg" >/dev/null 2>&1) || { log "apt-get download $pkg failed"; return 1; }
    dpkg-deb -x "$B"/deb/"$pkg"_*.deb "$KDIR" || return 1
    rm -rf "$B/deb"
  fi
  KERNEL=$KDIR/boot/vmlinuz-$KVER
  MODSRC=$KDIR/lib/modules/$KVER
}

declare -A MODPATH DONE
# Decompress module $1 and, recursively, what it depends on into $MODDST.
add_mod() {
  local n=${1//-/_} rel dep
  [ -n "${DONE[$n]:-}" ] && return 0
  rel=${MODPATH[$n]:-}
  [ -z "$rel" ] && { log "module $n not found in $MODSRC"; return 1; }
  DONE[$n]=1
  mkdir -p "$MODDST/$(dirname "$rel")"
  xz -dc "$MODSRC/$rel" > "$MODDST/${rel%.xz}" || return 1
  for dep in $(tr '\0' '\n' < "$MODDST/${rel%.xz}" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do
    add_mod "$dep" || return 1
  done
}

# Kernel, module tree and initramfs; rebuilt only when an input changes.
build() {
  ensure_kernel || return 1
  local stamp=$B/.stamp want f n
  want="$KVER|$INITRD_MODS|$GUEST_MODS|$(md5sum < "$0")"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$B/initramfs.cpio.gz" ] && return 0
  command -v busybox >/dev/null && busybox --list 2>/dev/null | grep -qx switch_root ||
    { log "static busybox is missing (apt-get install busybox-static)"; return 1; }
  log "building module tree and initramfs in $B"
  rm -rf "$B/modroot" "$B/initramfs" "$B/initramfs.cpio.gz"
  MODDST=$B/modroot/lib/modules/$KVER
  while IFS= read -r f; do n=$(basename "$f" .ko.xz); MODPATH[${n//-/_}]=${f#"$MODSRC"/}; done \
    < <(find "$MODSRC/kernel" -name '*.ko.xz')
  for n in $INITRD_MODS $GUEST_MODS; do add_mod "$n" || return 1; done
  cp "$MODSRC"/modules.builtin* "$MODSRC"/modules.order "$MODDST"/ 2>/dev/null
  busybox depmod -b "$B/modroot" "$KVER" || return 1
  local I=$B/initramfs
  mkdir -p "$I"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
  cp "$(command -v busybox)" "$I/bin/busybox"
  cp -a "$B/modroot/lib/modules/$KVER" "$I/lib/modules/"
  # the kernel opens /dev/console for init before devtmpfs is mounted
  mknod -m 600 "$I/dev/console" c 5 1 2>/dev/null || log "cannot mknod /dev/console: the guest's early output is lost"
  cat > "$I/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
die() { echo "VMTEST-INIT-FAIL: $*"; poweroff -f; }
for m in netfs 9pnet 9pnet_virtio 9p overlay; do modprobe $m || echo "vmtest-init: modprobe $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || die "mount 9p hostroot"
mount -t tmpfs -o mode=755 tmpfs /rw; mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || die "overlay root"
# /tmp stays on the overlay: a checkout or build tree under /tmp (where a CI
# may clone) must be visible in the guest as on the host.
for d in /newroot/run /newroot/mnt; do mount -t tmpfs -o mode=1777 tmpfs $d || die "tmpfs $d"; done
mkdir -p /newroot/run/vmout
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vmout /newroot/run/vmout || die "mount 9p vmout"
mount --move /proc /newroot/proc; mount --move /sys /newroot/sys; mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh /run/vmout/stage2
INIT
  chmod +x "$I/init"
  (cd "$I" && find . | cpio -o -H newc --quiet | gzip -1) > "$B/initramfs.cpio.gz" || return 1
  echo "$want" > "$stamp"
  log "initramfs $(du -h "$B/initramfs.cpio.gz" | cut -f1), kernel $KVER"
}

# Stage 2 runs as PID 1 on the new root: modules, cgroups, the command, poweroff.
write_stage2() {
  cat > "$1/stage2" <<S2
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
MODROOT=$B/modroot
S2
  cat >> "$1/stage2" <<'S2'
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd 2>/dev/null
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
# modprobe is busybox's (the host has no kmod) over the staged module tree
mkdir -p /lib/modules && mount --bind $MODROOT/lib/modules /lib/modules
ln -sf "$(command -v busybox)" /usr/sbin/modprobe
echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe
hostname vmtest; ip link set lo up 2>/dev/null
cd /run
echo "VMTEST-GUEST-UP $(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/{print $2}' /proc/meminfo)kB"
( /bin/bash /run/vmout/cmd; echo $? > /run/vmout/rc ) 2>&1 | busybox tee /run/vmout/guest.log
echo "VMTEST-GUEST-DONE rc=$(cat /run/vmout/rc 2>/dev/null) uptime=$(cut -d' ' -f1 /proc/uptime)s"
sync; umount /run/vmout 2>/dev/null
poweroff -f
S2
}

# Boot the guest on run directory $1 (it holds cmd); console goes to console.log.
boot() {
  local out=$1 rc
  write_stage2 "$out"
  log "booting $KVER: smp=$VM_SMP mem=$VM_MEM timeout=${VM_TIMEOUT}s (console: $out/console.log)"
  timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config -M pc \
    -accel tcg,thread=multi -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
    -display none -monitor none -serial stdio -no-reboot \
    -kernel "$KERNEL" -initrd "$B/initramfs.cpio.gz" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=4" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$out,mount_tag=vmout,security_model=none" \
    < /dev/null > "$out/console.log" 2>&1
  rc=$?
  [ "$rc" = 124 ] && log "QEMU timed out after ${VM_TIMEOUT}s"
  return "$rc"
}

# Can this machine run the guest at all?  Exit 77 (skip) with the reason if not.
cmd_check() {
  command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"; exit 77; }
  timeout 20 qemu-system-x86_64 -accel tcg -M pc -nodefaults -display none -no-user-config \
    -monitor none -serial none -S </dev/null >/dev/null 2>"$VM_CACHE.qemucheck" &
  local pid=$!
  sleep 2
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "qemu cannot start here: $(head -c 300 "$VM_CACHE.qemucheck")"; rm -f "$VM_CACHE.qemucheck"; exit 77
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$VM_CACHE.qemucheck"
  exit 0
}

# Run a host script as root in the guest and exit with its status.
cmd_run() {
  local script=$1 out; shift
  build || exit 2
  out=${VM_OUT:-$VM_CACHE/out/$(date +%Y%m%d-%H%M%S)-$$}
  mkdir -p "$out" || exit 2
  { printf 'cd /run\nexec /bin/bash %q' "$(realpath "$script")"; printf ' %q' "$@"; echo; } > "$out/cmd"
  boot "$out"
  [ -f "$out/rc" ] || { log "the guest did not finish (see $out/console.log)"; tail -n 30 "$out/console.log" >&2; exit 3; }
  exit "$(cat "$out/rc")"
}

mkdir -p "$VM_CACHE" || exit 2
case "${1:-}" in
  check) cmd_check ;;
  build) build ;;
  run) shift; [ $# -ge 1 ] || { echo "usage: $0 run SCRIPT [ARGS...]" >&2; exit 2; }; cmd_run "$@" ;;
  *) echo "usage: $0 check|build|run SCRIPT [ARGS...]" >&2; exit 2 ;;
esac
