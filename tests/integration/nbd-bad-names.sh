#!/usr/bin/env bash
# NBD bad input: export names with a NUL byte, of 4096 and 4097 bytes, on
# GO, INFO and EXPORT_NAME alike.
. "$(dirname "$0")/functions.sh"
run_raw_case names
