/* nqn.c: the syntax of NVMe Qualified Names (NVMe base specification,
 * "NVMe Qualified Names"): "nqn.yyyy-mm.reverse.domain:string", at most
 * 223 bytes.  vramd makes directories named after them in configfs, so a
 * '/' or a control character is refused too. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "spec.h"

/* A reverse domain name: labels of letters, digits and '-', split by '.'. */
static bool domain_valid(const char *s, size_t n)
{
  size_t label = 0;

  if (n == 0 || s[0] == '.' || s[n - 1] == '.')
    return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (label == 0)
        return false;
      label = 0;
    } else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
      label++;
    } else {
      return false;
    }
  }
  return true;
}

/* Check an NQN. */
bool vd_nqn_valid(const char *nqn, char *err, size_t errlen)
{
  const char *colon, *example = "nqn.2014-08.org.example:host1";
  size_t len = strlen(nqn);
  int month;

  if (len > VD_NQN_MAX) {
    snprintf(err, errlen, "NQN '%.40s...' is %zu bytes; an NQN has at most %d", nqn, len,
             VD_NQN_MAX);
    return false;
  }
  if (strncmp(nqn, "nqn.", 4) || len < 12 || !isdigit((unsigned char)nqn[4]) ||
      !isdigit((unsigned char)nqn[5]) || !isdigit((unsigned char)nqn[6]) ||
      !isdigit((unsigned char)nqn[7]) || nqn[8] != '-' || !isdigit((unsigned char)nqn[9]) ||
      !isdigit((unsigned char)nqn[10]) || nqn[11] != '.' ||
      (month = (nqn[9] - '0') * 10 + (nqn[10] - '0')) < 1 || month > 12) {
    snprintf(err, errlen, "'%s' is not an NQN: it must start with nqn.yyyy-mm. (such as %s)",
             nqn, example);
    return false;
  }
  colon = strchr(nqn + 12, ':');
  if (!colon || !domain_valid(nqn + 12, (size_t)(colon - nqn - 12))) {
    snprintf(err, errlen, "'%s' is not an NQN: after nqn.yyyy-mm. comes a reverse domain name "
             "and ':' (such as %s)", nqn, example);
    return false;
  }
  if (colon[1] == '\0') {
    snprintf(err, errlen, "'%s' is not an NQN: nothing follows the ':'", nqn);
    return false;
  }
  for (const char *p = colon + 1; *p; p++)
    if (*p == '/' || iscntrl((unsigned char)*p) || *p == ' ') {
      snprintf(err, errlen, "'%s' is not an NQN vramd takes: no '/', space or control "
               "character after the ':'", nqn);
      return false;
    }
  return true;
}
