#!/usr/bin/env bash
# NBD bad input: clients that drop mid-request, mid-payload and with replies unread.
. "$(dirname "$0")/functions.sh"
run_raw_case drop
