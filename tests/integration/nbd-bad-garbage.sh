#!/usr/bin/env bash
# NBD bad input: a garbage handshake, bad client flags, bad option magic, a random request.
. "$(dirname "$0")/functions.sh"
run_raw_case garbage
