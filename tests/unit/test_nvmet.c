/* test_nvmet.c: daemon/export/nvmet.c against a temporary folder that
 * mimics nvmet's configfs (nvmet-plain.c), with a failure injected at
 * every step of an export in turn: each must leave the tree as it was.
 * Also the NQN syntax and the export's JSON codec. */
#define _GNU_SOURCE 1 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmet.h"
#include "runner.h"

/* Paths here are short (a mkdtemp folder and the NQNs above). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define SUB "nqn.2026-11.org.vramd:h1:vol1"
#define SUB2 "nqn.2026-11.org.vramd:h1:vol2"
#define HOST1 "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define HOST2 "nqn.2026-01.com.example:client2"

static char root[PATH_MAX];
static unsigned ops, fail_at;   /* fail_at: the op (from 1) that fails; 0: none */
static bool with_dhchap = true; /* hosts/<nqn>/dhchap_key exists (Linux 6.0+) */

/* Count an op; true when it is the one to fail. */
static bool inject(void) { return ++ops == fail_at; }

/* vd_nvmet_plain's mkdir; a host entry loses dhchap_key without DH-CHAP. */
static int fake_mkdir(const char *path)
{
  char p[PATH_MAX], hosts[PATH_MAX];
  int rc;
  if (inject())
    return -EIO;
  rc = vd_nvmet_plain.mkdir(path);
  snprintf(hosts, sizeof hosts, "%s/hosts/", root);
  if (!rc && !with_dhchap && !strncmp(path, hosts, strlen(hosts))) {
    snprintf(p, sizeof p, "%s/dhchap_key", path);
    unlink(p);
  }
  return rc;
}

/* The other ops: vd_nvmet_plain's, each one a step that may fail. */
static int fake_rmdir(const char *path) { return inject() ? -EIO : vd_nvmet_plain.rmdir(path); }
static int fake_write(const char *path, const char *value)
{
  return inject() ? -EIO : vd_nvmet_plain.write(path, value);
}
static int fake_symlink(const char *target, const char *link)
{
  return inject() ? -EIO : vd_nvmet_plain.symlink(target, link);
}
static int fake_unlink(const char *path) { return inject() ? -EIO : vd_nvmet_plain.unlink(path); }

static const struct vd_nvmet_fs fake = { fake_mkdir, fake_rmdir, fake_write, fake_symlink,
                                         fake_unlink };
static const struct vd_nvmet target = { .root = root, .fs = &fake,
                                        .share_prefix = "nqn.2026-11.org.vramd:h1" };

/* An export of SUB on 192.0.2.1:4420 to HOST1 (with a key) and HOST2. */
static struct vd_nvmet_export export_of(const char *nqn, const char *port)
{
  return (struct vd_nvmet_export){ .nqn = nqn, .device = "/dev/ublkb0", .addr = "192.0.2.1",
                                   .port = port, .nhosts = 2, .hosts = { HOST1, HOST2 },
                                   .keys = { "DHHC-1:00:secret:", NULL } };
}

static char *snap;
static size_t snap_len, snap_cap;

/* One entry of the tree: its path, and its link target or contents. */
static int snap_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
  char line[PATH_MAX * 2 + 8], extra[PATH_MAX] = "";
  ssize_t n = 0;
  int fd;
  (void)st;
  (void)f;
  if (type == FTW_SL && (n = readlink(path, extra, sizeof extra - 1)) >= 0)
    extra[n] = '\0';
  if (type == FTW_F && (fd = open(path, O_RDONLY)) >= 0) {
    n = read(fd, extra, sizeof extra - 1);
    extra[n > 0 ? n : 0] = '\0';
    close(fd);
  }
  n = snprintf(line, sizeof line, "%s %d %s\n", path + strlen(root), type, extra);
  if (snap_len + (size_t)n + 1 > snap_cap) {
    snap_cap = (snap_cap + (size_t)n + 1) * 2;
    snap = realloc(snap, snap_cap);
  }
  memcpy(snap + snap_len, line, (size_t)n + 1);
  snap_len += (size_t)n;
  return 0;
}

/* The whole tree as text, in a stable order; the caller frees it. */
static char *tree(void)
{
  snap = NULL;
  snap_len = snap_cap = 0;
  nftw(root, snap_one, 16, FTW_PHYS);
  return snap ? snap : strdup("");
}

/* The contents of root/rel ("" when unreadable). */
static const char *cat(const char *rel)
{
  static char buf[256];
  char p[PATH_MAX];
  int fd;
  ssize_t n = 0;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  buf[0] = '\0';
  if ((fd = open(p, O_RDONLY)) >= 0) {
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
  }
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

/* Where link root/rel points, relative to root ("" when none). */
static const char *link_of(const char *rel)
{
  static char buf[PATH_MAX];
  char p[PATH_MAX];
  ssize_t n;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  n = readlink(p, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  return n > (ssize_t)strlen(root) ? buf + strlen(root) + 1 : buf;
}

static bool exists(const char *rel)
{
  char p[PATH_MAX];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  return lstat(p, &st) == 0;
}

/* A fresh nvmet tree for each test. */
static int fresh(void)
{
  char p[PATH_MAX];
  snprintf(root, sizeof root, "/tmp/vd-nvmet-XXXXXX");
  if (!mkdtemp(root))
    return -1;
  for (unsigned i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", root, (const char *[]){ "subsystems", "ports", "hosts" }[i]);
    mkdir(p, 0755);
  }
  ops = fail_at = 0;
  with_dhchap = true;
  return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
  (void)st;
  (void)type;
  (void)f;
  return remove(path);
}

static void gone(void) { nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Every file and link an export makes, and removal back to an empty tree. */
static void test_layout(void)
{
  struct vd_nvmet_export x = export_of(SUB, "4420");
  char err[512], port[16] = "", *before;

  CU_ASSERT_FATAL(fresh() == 0);
  before = tree();
  CU_ASSERT_EQUAL_FATAL(vd_nvmet_add(&target, &x, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cat("subsystems/" SUB "/attr_allow_any_host"), "0");
  CU_ASSERT_STRING_EQUAL(link_of("subsystems/" SUB "/allowed_hosts/" HOST1), "hosts/" HOST1);
  CU_ASSERT_STRING_EQUAL(link_of("subsystems/" SUB "/allowed_hosts/" HOST2), "hosts/" HOST2);
  CU_ASSERT_STRING_EQUAL(cat("hosts/" HOST1 "/dhchap_key"), "DHHC-1:00:secret:");
  CU_ASSERT_STRING_EQUAL(cat("hosts/" HOST2 "/dhchap_key"), "");
  CU_ASSERT_STRING_EQUAL(cat("subsystems/" SUB "/namespaces/1/device_path"), "/dev/ublkb0");
  CU_ASSERT_STRING_EQUAL(cat("subsystems/" SUB "/namespaces/1/enable"), "1");
  CU_ASSERT_STRING_EQUAL(cat("ports/1/addr_trtype"), "tcp");
  CU_ASSERT_STRING_EQUAL(cat("ports/1/addr_adrfam"), "ipv4");
  CU_ASSERT_STRING_EQUAL(cat("ports/1/addr_traddr"), "192.0.2.1");
  CU_ASSERT_STRING_EQUAL(cat("ports/1/addr_trsvcid"), "4420");
  CU_ASSERT_STRING_EQUAL(link_of("ports/1/subsystems/" SUB), "subsystems/" SUB);
  CU_ASSERT(vd_nvmet_live(&target, SUB, port));
  CU_ASSERT_STRING_EQUAL(port, "1");
  CU_ASSERT_EQUAL(vd_nvmet_revalidate(&target, SUB, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cat("subsystems/" SUB "/namespaces/1/revalidate_size"), "1");
  /* A second export of the same subsystem is refused and changes nothing. */
  CU_ASSERT_EQUAL(vd_nvmet_add(&target, &x, err, sizeof err), -EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists already"));
  CU_ASSERT_EQUAL(vd_nvmet_remove(&target, SUB, err, sizeof err), 0);
  char *after = tree();
  CU_ASSERT_STRING_EQUAL(after, before);
  CU_ASSERT_FALSE(vd_nvmet_live(&target, SUB, port));
  CU_ASSERT_EQUAL(vd_nvmet_remove(&target, SUB, err, sizeof err), -ENOENT);
  free(after);
  free(before);
  gone();
}

/* A failure at any step leaves the tree as it was. */
static void test_rollback(void)
{
  struct vd_nvmet_export x = export_of(SUB, "4420");
  char err[512], *before, *after;
  unsigned total;

  CU_ASSERT_FATAL(fresh() == 0);
  before = tree();
  CU_ASSERT_EQUAL_FATAL(vd_nvmet_add(&target, &x, err, sizeof err), 0);
  total = ops;
  CU_ASSERT(total >= 12); /* subsystem, attr, 2 hosts, key, 2 links, ns, 2 attrs, port... */
  CU_ASSERT_EQUAL_FATAL(vd_nvmet_remove(&target, SUB, err, sizeof err), 0);
  for (unsigned k = 1; k <= total; k++) {
    ops = 0;
    fail_at = k;
    CU_ASSERT_EQUAL(vd_nvmet_add(&target, &x, err, sizeof err), -EIO);
    fail_at = 0;
    after = tree();
    if (strcmp(after, before))
      fprintf(stderr, "failure at op %u of %u left:\n%s\n(was:\n%s)\n", k, total, after, before);
    CU_ASSERT_STRING_EQUAL(after, before);
    free(after);
  }
  free(before);
  gone();
}

/* vramd's exports share a port; one serving another's subsystem is
 * refused; removal keeps a port while it has a subsystem. */
static void test_ports(void)
{
  struct vd_nvmet_export a = export_of(SUB, "4420"), b = export_of(SUB2, "4420");
  struct vd_nvmet_export other = export_of("nqn.2020-01.com.example:theirs", "4421");
  struct vd_nvmet_export clash = export_of(SUB2, "4421");
  char err[512], *before;

  CU_ASSERT_FATAL(fresh() == 0);
  CU_ASSERT_EQUAL_FATAL(vd_nvmet_add(&target, &a, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_nvmet_add(&target, &b, err, sizeof err), 0);
  CU_ASSERT(exists("ports/1/subsystems/" SUB) && exists("ports/1/subsystems/" SUB2));
  CU_ASSERT_FALSE(exists("ports/2"));
  CU_ASSERT_EQUAL(vd_nvmet_remove(&target, SUB, err, sizeof err), 0);
  CU_ASSERT(exists("ports/1/subsystems/" SUB2));
  /* HOST1 is still let in by SUB2: its entry stays. */
  CU_ASSERT(exists("hosts/" HOST1));
  CU_ASSERT_EQUAL(vd_nvmet_add(&target, &other, err, sizeof err), 0);
  CU_ASSERT(exists("ports/2/subsystems/nqn.2020-01.com.example:theirs"));
  vd_nvmet_remove(&target, SUB2, err, sizeof err);
  CU_ASSERT_FALSE(exists("ports/1"));
  before = tree();
  CU_ASSERT_EQUAL(vd_nvmet_add(&target, &clash, err, sizeof err), -EADDRINUSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));
  char *after = tree();
  CU_ASSERT_STRING_EQUAL(after, before);
  free(after);
  free(before);
  gone();
}

/* A key where the kernel has no DH-HMAC-CHAP: refused, nothing left. */
static void test_no_dhchap(void)
{
  struct vd_nvmet_export x = export_of(SUB, "4420");
  char err[512], *before, *after;

  CU_ASSERT_FATAL(fresh() == 0);
  with_dhchap = false;
  before = tree();
  CU_ASSERT_EQUAL(vd_nvmet_add(&target, &x, err, sizeof err), -EOPNOTSUPP);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "DH-HMAC-CHAP"));
  after = tree();
  CU_ASSERT_STRING_EQUAL(after, before);
  free(after);
  free(before);
  /* allow-any-host and IPv6 */
  x.keys[0] = NULL;
  x.nhosts = 0;
  x.allow_any_host = true;
  x.addr = "::1";
  x.v6 = true;
  CU_ASSERT_EQUAL(vd_nvmet_add(&target, &x, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cat("subsystems/" SUB "/attr_allow_any_host"), "1");
  CU_ASSERT_STRING_EQUAL(cat("ports/1/addr_adrfam"), "ipv6");
  gone();
}

/* NQN syntax: nqn.yyyy-mm.reverse.domain:string, at most 223 bytes. */
static void test_nqn(void)
{
  static const char *const good[] = { HOST1, HOST2, SUB, "nqn.2014-08.org.nvmexpress:uuid:x",
                                      "nqn.1999-12.a:b" };
  static const char *const bad[] = { "", "nqn.", "iqn.2014-08.org.x:y", "nqn.2014-13.org.x:y",
                                     "nqn.2014-00.org.x:y", "nqn.14-08.org.x:y",
                                     "nqn.2014-08.org.x", "nqn.2014-08.org.x:",
                                     "nqn.2014-08.:y", "nqn.2014-08.org..x:y",
                                     "nqn.2014-08.org.x:a/b", "nqn.2014-08.org.x:a b",
                                     "nqn.2014-08.org_x:y" };
  char err[300], longest[300];

  for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++)
    CU_ASSERT(vd_nqn_valid(good[i], err, sizeof err));
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    CU_ASSERT_FALSE(vd_nqn_valid(bad[i], err, sizeof err));
    CU_ASSERT(err[0] != '\0');
  }
  snprintf(longest, sizeof longest, "nqn.2014-08.org.x:%0*d", VD_NQN_MAX - 18, 0);
  CU_ASSERT_EQUAL(strlen(longest), VD_NQN_MAX);
  CU_ASSERT(vd_nqn_valid(longest, err, sizeof err));
  strcat(longest, "0");
  CU_ASSERT_FALSE(vd_nqn_valid(longest, err, sizeof err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 223"));
}

/* The export's JSON: a round trip through the state file's form, and
 * bodies refused by field. */
static void test_json(void)
{
  struct vd_export_spec x, y;
  struct vd_spec_error e;
  char addr[46], port[6];
  bool v6;
  json_t *o;

  o = json_loads("{\"nvme_tcp\": \"[::1]:4420\", \"hosts\": [{\"nqn\": \"" HOST1 "\", "
                 "\"key_file\": \"/etc/k\"}, {\"nqn\": \"" HOST2 "\"}]}", 0, NULL);
  CU_ASSERT_EQUAL_FATAL(vd_export_from_json(o, false, &x, &e), 0);
  json_decref(o);
  CU_ASSERT_EQUAL(x.nhosts, 2);
  CU_ASSERT_STRING_EQUAL(x.hosts[0].key_file, "/etc/k");
  CU_ASSERT(vd_export_address(x.address, addr, port, &v6, e.message, sizeof e.message));
  CU_ASSERT(v6 && !strcmp(addr, "::1") && !strcmp(port, "4420"));
  snprintf(x.nqn, sizeof x.nqn, "%s", SUB);
  o = vd_export_to_json(&x);
  CU_ASSERT_EQUAL(vd_export_from_json(o, true, &y, &e), 0);
  json_decref(o);
  CU_ASSERT_EQUAL(memcmp(&x, &y, sizeof x), 0);

  static const struct { const char *body, *code, *field; } refused[] = {
    { "{\"hosts\": [{\"nqn\": \"" HOST1 "\"}]}", "missing_field", "nvme_tcp" },
    { "{\"nvme_tcp\": \"1.2.3.4:4420\"}", "missing_field", "hosts" },
    { "{\"nvme_tcp\": \"1.2.3.4\", \"allow_any_host\": true}", "invalid_field", "nvme_tcp" },
    { "{\"nvme_tcp\": \"host.example:4420\", \"allow_any_host\": true}", "invalid_field",
      "nvme_tcp" },
    { "{\"nvme_tcp\": \"1.2.3.4:70000\", \"allow_any_host\": true}", "invalid_field",
      "nvme_tcp" },
    { "{\"nvme_tcp\": \"1.2.3.4:4420\", \"hosts\": [{\"nqn\": \"bad\"}]}", "invalid_field",
      "hosts" },
    { "{\"nvme_tcp\": \"1.2.3.4:4420\", \"hosts\": [{\"nqn\": \"" HOST1 "\"}, {\"nqn\": \""
      HOST1 "\"}]}", "invalid_field", "hosts" },
    { "{\"nvme_tcp\": \"1.2.3.4:4420\", \"hosts\": [{\"nqn\": \"" HOST1 "\", \"key_file\": "
      "\"rel\"}]}", "invalid_field", "hosts" },
    { "{\"nvme_tcp\": \"1.2.3.4:4420\", \"allow_any_host\": true, \"nqn\": \"" SUB "\"}",
      "unknown_field", "nqn" },
  };
  for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    o = json_loads(refused[i].body, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(vd_export_from_json(o, false, &x, &e), -EINVAL);
    CU_ASSERT_STRING_EQUAL(e.code, refused[i].code);
    CU_ASSERT_STRING_EQUAL(e.field, refused[i].field);
    json_decref(o);
  }
}

static const struct vd_test tests[] = {
  { "files and links of an export, removed back", test_layout },
  { "a failure at every step rolls back", test_rollback },
  { "ports shared by vramd's exports only", test_ports },
  { "no DH-HMAC-CHAP; any host; IPv6", test_no_dhchap },
  { "NQN syntax", test_nqn },
  { "export JSON", test_json },
  { NULL, NULL },
};
VD_TEST_ONE_SUITE("nvmet", tests);
