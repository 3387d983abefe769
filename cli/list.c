/* list.c: a list command (device list, volume list): -H, -p and -o, one
 * GET, one table. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl NOUN list [-H] [-p] [-o COLUMNS]. */
int vctl_list(struct vctl *g, int argc, char **argv, const char *path, const char *member)
{
  return vctl_list_rows(g, argc, argv, path, member, NULL);
}

/* The same, with worked-out members added to each row. */
int vctl_list_rows(struct vctl *g, int argc, char **argv, const char *path, const char *member,
                   void (*row)(json_t *row, bool exact))
{
  static const struct option opts[] = {
    { "noheadings", no_argument, NULL, 'H' }, { "bytes", no_argument, NULL, 'p' },
    { "output", required_argument, NULL, 'o' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *columns = NULL;
  struct vctl_table t;
  json_t *doc;
  int c, rc;

  vctl_table_init(&t, g->cmd->cols, g->cmd->ncols);
  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT "Hpo:", opts)) > 0) {
    if (c == 'H')
      t.noheadings = true;
    else if (c == 'p')
      t.exact = true;
    else
      columns = optarg;
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if (optind < argc)
    return vctl_usage_error(g, "unexpected argument '%s'", argv[optind]);
  if (g->json && (columns || t.noheadings || t.exact))
    return vctl_usage_error(g, "-H, -p and -o shape the table, --json prints the API's "
                            "fields: give one or the other");
  if (columns && (rc = vctl_table_pick(g, &t, columns)) >= 0)
    return rc;
  if ((rc = vctl_get(g, path, &doc)) >= 0)
    return rc;
  if (g->json)
    return vctl_print_json(doc);
  if (row) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, member), i, r)
      if (json_is_object(r))
        row(r, t.exact);
  }
  rc = vctl_table_print(&t, json_object_get(doc, member));
  json_decref(doc);
  return rc;
}
