/* table.c: tables for people and for scripts, as lsblk and zfs list print
 * them: libsmartcols aligns them (a long name widens its column), -H
 * writes tab-separated fields without a header, -p exact bytes, -o picks
 * the columns. */
#include <libsmartcols.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vramctl.h"

/* The default columns. */
void vctl_table_init(struct vctl_table *t, const struct vctl_col *cols, size_t ncols)
{
  memset(t, 0, sizeof *t);
  t->cols = cols;
  t->ncols = ncols;
  for (size_t i = 0; i < ncols && t->npick < VCTL_MAX_COLUMNS; i++)
    if (cols[i].dflt)
      t->pick[t->npick++] = (unsigned)i;
}

/* -o: a comma-separated list of column names, any case. */
int vctl_table_pick(struct vctl *g, struct vctl_table *t, const char *list)
{
  const char *p = list;
  size_t n, i;

  if (*p == '+')
    p++;
  else
    t->npick = 0;
  for (; *p; p += n + (p[n] == ',')) {
    n = strcspn(p, ",");
    for (i = 0; i < t->ncols; i++)
      if (strlen(t->cols[i].name) == n && !strncasecmp(p, t->cols[i].name, n))
        break;
    if (i == t->ncols)
      return vctl_usage_error(g, "-o: no column '%.*s'", (int)(n > 40 ? 40 : n), p);
    if (t->npick == VCTL_MAX_COLUMNS)
      return vctl_usage_error(g, "-o: at most %d columns", VCTL_MAX_COLUMNS);
    t->pick[t->npick++] = (unsigned)i;
  }
  if (!t->npick)
    return vctl_usage_error(g, "-o: name at least one column");
  return -1;
}

/* An integer member as text: IEC units unless exact; "-" when absent,
 * "?" when not a count. */
static const char *number(json_t *v, bool bytes, bool exact, char *buf, size_t len)
{
  if (!v || json_is_null(v))
    return "-";
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return "?";
  if (bytes && !exact)
    return vd_format_size((uint64_t)json_integer_value(v), buf, len);
  snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  return buf;
}

/* One cell's text. */
static const char *cell(const struct vctl_table *t, const struct vctl_col *c, json_t *row,
                        char *buf, size_t len)
{
  json_t *v = json_object_get(row, c->key);
  switch (c->kind) {
  case VCTL_COL_BYTES:
  case VCTL_COL_COUNT:
    return number(v, c->kind == VCTL_COL_BYTES, t->exact, buf, len);
  case VCTL_COL_IDS:
    return !v ? "-" : json_is_array(v) ? vctl_join_ids(v, buf, len) : "?";
  case VCTL_COL_WHERE:
    return vctl_volume_where(row);
  case VCTL_COL_YESNO:
    return !v ? "-" : json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "?";
  case VCTL_COL_TEXT:
  default:
    return !v || json_is_null(v) ? "-" : vctl_text(v, "?");
  }
}

/* -H: fields separated by one tab, no padding, as zfs -H; a tab, newline
 * or other control character in a value is written \xHH, so fields split
 * on tabs always. */
static void print_tabbed(const struct vctl_table *t, json_t *rows)
{
  char buf[4096];
  size_t i, k;
  json_t *row;

  json_array_foreach(rows, i, row) {
    for (k = 0; k < t->npick; k++) {
      const unsigned char *s =
        (const unsigned char *)cell(t, &t->cols[t->pick[k]], row, buf, sizeof buf);
      if (k)
        putchar('\t');
      for (; *s; s++)
        if (*s < 0x20 || *s == 0x7f || *s == '\\')
          printf("\\x%02x", *s);
        else
          putchar(*s);
    }
    putchar('\n');
  }
}

/* The aligned table.  libsmartcols prints nothing for a table without
 * lines, so an empty one is written here as its header alone: the column
 * names, each as wide as itself, as libsmartcols would. */
static int print_aligned(const struct vctl_table *t, json_t *rows)
{
  struct libscols_table *tb;
  char buf[4096];
  size_t i, k;
  json_t *row;
  int rc = VCTL_OK;

  if (json_array_size(rows) == 0) {
    for (k = 0; k < t->npick; k++)
      printf("%s%s", k ? " " : "", t->cols[t->pick[k]].name);
    printf("\n");
    return VCTL_OK;
  }
  if (!(tb = scols_new_table()))
    goto out_nomem;
  for (k = 0; k < t->npick; k++) {
    const struct vctl_col *c = &t->cols[t->pick[k]];
    bool right = c->kind == VCTL_COL_BYTES || c->kind == VCTL_COL_COUNT;
    if (!scols_table_new_column(tb, c->name, 0, right ? SCOLS_FL_RIGHT : 0))
      goto out_nomem;
  }
  json_array_foreach(rows, i, row) {
    struct libscols_line *ln = scols_table_new_line(tb, NULL);
    if (!ln)
      goto out_nomem;
    for (k = 0; k < t->npick; k++)
      if (scols_line_set_data(ln, k, cell(t, &t->cols[t->pick[k]], row, buf, sizeof buf)))
        goto out_nomem;
  }
  if (scols_print_table(tb)) {
    fprintf(stderr, "vramctl: cannot print the table\n");
    rc = VCTL_FAILED;
  }
  scols_unref_table(tb);
  return rc;

out_nomem:
  fprintf(stderr, "vramctl: out of memory\n");
  scols_unref_table(tb); /* NULL is fine */
  return VCTL_FAILED;
}

/* One row per element of rows. */
int vctl_table_print(const struct vctl_table *t, json_t *rows)
{
  if (!t->noheadings)
    return print_aligned(t, rows);
  print_tabbed(t, rows);
  return VCTL_OK;
}

/* The default columns of cols, as status and show print them. */
int vctl_table_print_default(const struct vctl_col *cols, size_t ncols, json_t *rows)
{
  struct vctl_table t;
  vctl_table_init(&t, cols, ncols);
  return vctl_table_print(&t, rows);
}

/* The table options and columns, for --help. */
void vctl_table_help(FILE *f, const struct vctl_col *cols, size_t ncols)
{
  fprintf(f, "\n  -H, --noheadings   no header; fields separated by one tab (for scripts)\n"
             "  -p, --bytes        sizes as exact byte counts\n"
             "  -o, --output LIST  the columns to print, comma-separated, any case;\n"
             "                     +LIST adds them to the default ones (*)\n\n"
             "Columns:\n");
  for (size_t i = 0; i < ncols; i++)
    fprintf(f, "  %-12s%s %s\n", cols[i].name, cols[i].dflt ? "*" : " ", cols[i].help);
}
