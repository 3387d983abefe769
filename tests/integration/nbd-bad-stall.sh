#!/usr/bin/env bash
# NBD bad input: a client that sends 8 MiB of WRITEs before reading the reply to a lone 1 MiB READ does not stall the server.
. "$(dirname "$0")/functions.sh"
run_raw_case stall
