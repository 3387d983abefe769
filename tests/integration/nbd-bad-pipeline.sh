#!/usr/bin/env bash
# NBD bad input: 96 pipelined writes and reads answered by cookie; zero and trim read back as zeros.
. "$(dirname "$0")/functions.sh"
run_raw_case pipeline
