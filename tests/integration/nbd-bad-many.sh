#!/usr/bin/env bash
# NBD bad input: 1000 connections opened and abandoned while a real session works.
. "$(dirname "$0")/functions.sh"
run_raw_case many
