/* words.c: vramd's API messages speak HTTP (a query string, a route); a
 * person at vramctl needs the option or command that does the same. */
#include <string.h>

#include "vramctl.h"

/* API phrase, and what vramctl says instead; the first that matches at a
 * place wins, so longer phrases come first. */
static const struct {
  const char *api, *cli;
} words[] = {
  /* the 409 of DELETE /v1/volumes/NAME and of .../detach, whose messages
   * already say "or delete with force" or "or detach with force" */
  { "; use ?force=true to disconnect its clients and delete it", "" },
  { "; use ?force=true to disconnect its clients and detach it", "" },
  { "resize with force to cut them (?force=true)", "resize with --force to cut them" },
  { "delete with force", "delete with --force" },
  { "detach with force", "detach with --force" },
  { "?force=true", "--force" },
  { "PATCH /v1/devices/", "vramctl device set " },
  { "GET /v1/devices/", "vramctl device show " },
  { "GET /v1/devices", "'vramctl device list'" },
  { "GET /v1/volumes/", "vramctl volume show " },
  { "GET /v1/volumes", "'vramctl volume list'" },
  { "DELETE /v1/volumes/", "vramctl volume delete " },
  { "POST /v1/volumes", "'vramctl volume create'" },
  { "GET /v1/jobs", "'vramctl job list'" },
};

/* msg with each API phrase replaced, in one pass (a replacement is never
 * matched again). */
const char *vctl_cli_words(const char *msg, char *out, size_t len)
{
  size_t off = 0, i, n;
  while (*msg && off + 1 < len) {
    for (i = 0; i < sizeof words / sizeof words[0]; i++)
      if (!strncmp(msg, words[i].api, strlen(words[i].api)))
        break;
    if (i == sizeof words / sizeof words[0]) {
      out[off++] = *msg++;
      continue;
    }
    n = strlen(words[i].cli);
    if (n > len - 1 - off)
      n = len - 1 - off;
    memcpy(out + off, words[i].cli, n);
    off += n;
    msg += strlen(words[i].api);
  }
  out[off] = '\0';
  return out;
}
