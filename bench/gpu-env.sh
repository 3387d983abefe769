# gpu-env.sh BUNDLE: source on the GPU host to use NVIDIA's OpenCL driver
# through the bundled ICD loader (the host has no ICD file of its own).
bundle=$(realpath "${1:?bundle folder}")
mkdir -p /tmp/icd
for lib in /usr/lib/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 \
           /usr/local/nvidia/lib64/libnvidia-opencl.so.1; do
  [ -e "$lib" ] && { echo "$lib" > /tmp/icd/nvidia.icd; break; }
done
export OCL_ICD_VENDORS=/tmp/icd
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$bundle/bin:$PATH"
# Clients (fio, nbdkit, libnbd tools) travel packed; unpack them once.
if [ -f "$bundle/clients.tar.xz" ] && [ ! -e /tmp/clients/bin/fio ]; then
  mkdir -p /tmp/clients && tar -xJf "$bundle/clients.tar.xz" -C /tmp/clients
fi
if [ -f "$bundle/perf.tar.xz" ] && [ ! -e /tmp/clients/bin/perf ]; then
  mkdir -p /tmp/clients && tar -xJf "$bundle/perf.tar.xz" -C /tmp/clients
fi
if [ -d /tmp/clients ]; then
  export PATH="/tmp/clients/bin:$PATH"
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/tmp/clients/lib"
  export NBDKIT_MEMORY_PLUGIN=/tmp/clients/lib/nbdkit-memory-plugin.so
  export NBDKIT_NULL_PLUGIN=/tmp/clients/lib/nbdkit-null-plugin.so
fi
