/* runner.h: the one main() of the CUnit test programs.  A test file lists
 * its suites in a table and names it with VD_TEST_PROGRAM; runner.c
 * registers, runs and counts them. */
#ifndef VRAMD_TEST_RUNNER_H
#define VRAMD_TEST_RUNNER_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>

/* One test; a table of them ends with { NULL }. */
struct vd_test {
  const char *name;
  CU_TestFunc fn;
};

/* One suite: its tests, in up to four tables (several suites may share
 * one), with optional set-up and tear-down; a table of suites ends with
 * { NULL }. */
struct vd_suite {
  const char *name;
  const struct vd_test *tests[4];
  CU_InitializeFunc init;
  CU_CleanupFunc fini;
};

/* A test program: its suites, and what to do once before and after them
 * all (either may be NULL; a setup that fails ends the program). */
struct vd_test_program {
  const struct vd_suite *suites;
  int (*setup)(void);
  void (*teardown)(void);
};

extern const struct vd_test_program vd_test_program;

/* Name the program's suite table, setup and teardown (or NULL). */
#define VD_TEST_PROGRAM(suites_, setup_, teardown_)                        \
  const struct vd_test_program vd_test_program = {                         \
    .suites = suites_, .setup = setup_, .teardown = teardown_ }

/* A program of one suite with neither set-up nor tear-down. */
#define VD_TEST_ONE_SUITE(name_, tests_)                                   \
  static const struct vd_suite vd_suites_[] = {                            \
    { .name = name_, .tests = { tests_ } }, { .name = NULL } };            \
  VD_TEST_PROGRAM(vd_suites_, NULL, NULL)

#endif
