#!/usr/bin/env bash
# NBD bad input: offsets past the end (EINVAL/ENOSPC), unknown commands and flags, DISC.
. "$(dirname "$0")/functions.sh"
run_raw_case past-end
