#!/usr/bin/env bash
# NBD bad input: unsupported, malformed, over-long and 4 GiB options; INFO, ABORT, EXPORT_NAME.
. "$(dirname "$0")/functions.sh"
run_raw_case options
