#!/bin/sh
# install-deps.sh: everything vramd needs to build, test and benchmark on
# Debian 12 or Ubuntu, from the distribution's own packages.
set -eu
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root (sudo)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential autoconf automake libtool pkg-config \
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 pocl-opencl-icd clinfo \
  libjansson-dev libmicrohttpd-dev liburing-dev libnl-genl-3-dev libsystemd-dev libcurl4-openssl-dev libsmartcols-dev \
  libgnutls28-dev openssl \
  libcunit1-dev jq curl ca-certificates python3 \
  debhelper lintian rpm bash-completion \
  clang libclang-rt-14-dev \
  nbdkit libnbd-bin python3-libnbd nbdfuse fio prometheus qemu-utils nbd-client fuse3 e2fsprogs util-linux \
  nvme-cli mdadm \
  qemu-system-x86 busybox-static cpio xz-utils \
  systemd passwd iproute2 kmod procps \
  >/dev/null
