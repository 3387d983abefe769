#!/usr/bin/env bash
# NBD bad input: 4 GiB and over-long lengths (EOVERFLOW, payload skipped), a 32 MiB read.
. "$(dirname "$0")/functions.sh"
run_raw_case huge
