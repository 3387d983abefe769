/* no-cunit.h: forced into every unit test when configure found no CUnit,
 * so that `make check` says what is missing instead of failing on a
 * header.  vramd and vramctl build without it. */
#error "make check needs CUnit: install libcunit1-dev (packaging/install-deps.sh does), then run configure again"
