/* runner.c: main() for every CUnit test program: register the program's
 * suites, run them verbosely, and fail on any failed assertion, test or
 * suite set-up. */
#include <stdbool.h>
#include <stdio.h>

#include "runner.h"

/* Register one suite and its tests; false when CUnit cannot. */
static bool add_suite(const struct vd_suite *su)
{
  CU_pSuite s = CU_add_suite(su->name, su->init, su->fini);
  if (!s)
    return false;
  for (size_t t = 0; t < sizeof su->tests / sizeof su->tests[0] && su->tests[t]; t++)
    for (const struct vd_test *x = su->tests[t]; x->name; x++)
      if (!CU_add_test(s, x->name, x->fn))
        return false;
  return true;
}

/* Run the program's suites; 0 when all passed. */
int main(void)
{
  const struct vd_test_program *p = &vd_test_program;
  unsigned fails = 1;

  if (p->setup && p->setup())
    return 1;
  if (CU_initialize_registry() != CUE_SUCCESS)
    goto out_teardown;
  for (const struct vd_suite *su = p->suites; su->name; su++)
    if (!add_suite(su)) {
      fprintf(stderr, "cannot register suite '%s': %s\n", su->name, CU_get_error_msg());
      goto out_cleanup;
    }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  if (CU_basic_run_tests() == CUE_SUCCESS)
    fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
            CU_get_number_of_suites_failed();
out_cleanup:
  CU_cleanup_registry();
out_teardown:
  if (p->teardown)
    p->teardown();
  return fails ? 1 : 0;
}
