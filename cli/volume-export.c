/* volume-export.c: vramctl volume export, as targetcli's NVMe-oF setup
 * in one command: the volume's kernel device served over NVMe/TCP to the
 * hosts named, and the subsystem NQN printed for nvme connect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "vramctl.h"

/* Add --host NQN to hosts; -1, or the usage error. */
static int add_host(struct vctl *g, json_t *hosts, const char *nqn)
{
  char err[300];
  if (!vd_nqn_valid(nqn, err, sizeof err))
    return vctl_usage_error(g, "--host: %s", err);
  if (json_array_size(hosts) >= VD_EXPORT_MAX_HOSTS)
    return vctl_usage_error(g, "--host: at most %d hosts", VD_EXPORT_MAX_HOSTS);
  json_array_append_new(hosts, json_pack("{s:s}", "nqn", nqn));
  return -1;
}

/* Give the last --host the key file of --dhchap-key; -1, or the usage error. */
static int add_key(struct vctl *g, json_t *hosts, const char *file)
{
  json_t *last = json_array_get(hosts, json_array_size(hosts) - 1);
  char abs[VD_PERSIST_MAX];

  if (!last)
    return vctl_usage_error(g, "--dhchap-key FILE follows the --host it is for");
  if (json_object_get(last, "key_file"))
    return vctl_usage_error(g, "--dhchap-key: host %s has a key already",
                            json_string_value(json_object_get(last, "nqn")));
  if (!vctl_image_path(file, abs, sizeof abs))
    return VCTL_USAGE;
  json_object_set_new(last, "key_file", json_string(abs));
  return -1;
}

/* Print the export as made; warn when any host may connect. */
static int print_export(struct vctl *g, json_t *doc)
{
  if (json_is_true(json_object_get(doc, "allow_any_host")))
    fprintf(stderr, "vramctl: warning: any host that reaches %s may connect "
            "(--allow-any-host)\n", vctl_str(doc, "nvme_tcp", "?"));
  if (g->json)
    return vctl_print_json(doc);
  printf("%s\n", vctl_str(doc, "nqn", "?"));
  json_decref(doc);
  return VCTL_OK;
}

/* vramctl volume export NAME --nvme-tcp ADDR:PORT --host NQN [--dhchap-key FILE]... */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "nvme-tcp", required_argument, NULL, 't' }, { "host", required_argument, NULL, 'H' },
    { "dhchap-key", required_argument, NULL, 'k' },
    { "allow-any-host", no_argument, NULL, 'A' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  json_t *hosts = json_array(), *doc, *body;
  const char *addr = NULL, *name;
  bool any = false;
  char path[128], *text;
  int c, rc = -1;
  long st;

  while (rc < 0 && (c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0) {
    switch (c) {
    case 't': addr = optarg; break;
    case 'H': rc = add_host(g, hosts, optarg); break;
    case 'k': rc = add_key(g, hosts, optarg); break;
    case 'A': any = true; break;
    }
  }
  if (rc >= 0 || c == VCTL_OPTS_EXIT)
    goto out_hosts;
  rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name);
  if (rc < 0 && !addr)
    rc = vctl_usage_error(g, "--nvme-tcp ADDR:PORT is required (such as 192.0.2.1:4420)");
  if (rc < 0 && !any && json_array_size(hosts) == 0)
    rc = vctl_usage_error(g, "name the hosts let in with --host NQN (nvme show-hostnqn on "
                          "each), or give --allow-any-host");
  if (rc >= 0)
    goto out_hosts;
  body = json_pack("{s:s, s:O, s:b}", "nvme_tcp", addr, "hosts", hosts, "allow_any_host", any);
  text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  json_decref(hosts);
  snprintf(path, sizeof path, "/v1/volumes/%s/export", name);
  st = text ? vctl_request(g, "POST", path, text, &doc) : -1;
  free(text);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  return print_export(g, doc);

out_hosts:
  json_decref(hosts);
  return c == VCTL_OPTS_EXIT ? g->rc : rc;
}

const struct vctl_cmd vctl_cmd_volume_export = {
  "volume", "export", run,
  "volume export NAME --nvme-tcp ADDR:PORT --host NQN [--dhchap-key FILE]\n"
  "              [--host NQN [--dhchap-key FILE]]... [--allow-any-host]",
  "Serves the volume's kernel block device over NVMe/TCP through the kernel's\n"
  "NVMe-oF target (modprobe nvmet-tcp), and prints the subsystem NQN for\n"
  "'nvme connect'. A volume with no kernel device gets one first (ublk, else\n"
  "/dev/nbdN). Only the hosts named may connect. The export is saved: vramd\n"
  "makes it again after a restart.\n\n"
  "  --nvme-tcp ADDR:PORT  the address to listen on; [IPv6]:PORT for IPv6\n"
  "  --host NQN            a host let in (its /etc/nvme/hostnqn); repeat\n"
  "  --dhchap-key FILE     the DH-HMAC-CHAP secret the --host before it must\n"
  "                        prove (a DHHC-1 line, from nvme gen-dhchap-key)\n"
  "  --allow-any-host      let in any host that reaches the port (warned)",
  NULL, 0,
};
