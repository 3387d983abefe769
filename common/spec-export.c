/* spec-export.c: a volume's NVMe/TCP export as JSON, for the body of
 * POST /v1/volumes/{name}/export and the state file, and the check of its
 * address.  Strict like the spec codec: unknown members are refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* Split and check an address. */
bool vd_export_address(const char *address, char *addr, char *port, bool *v6, char *err,
                       size_t errlen)
{
  const char *colon = strrchr(address, ':'), *a = address;
  unsigned char bin[16];
  size_t alen;
  char *end;
  long p;

  if (!colon)
    goto out_bad;
  alen = (size_t)(colon - address);
  *v6 = address[0] == '[';
  if (*v6) {
    if (alen < 3 || address[alen - 1] != ']')
      goto out_bad;
    a++;
    alen -= 2;
  }
  if (alen == 0 || alen >= 46)
    goto out_bad;
  memcpy(addr, a, alen);
  addr[alen] = '\0';
  if (inet_pton(*v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
    goto out_bad;
  errno = 0;
  p = strtol(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
    goto out_bad;
  snprintf(port, 6, "%ld", p);
  return true;

out_bad:
  snprintf(err, errlen, "address '%s' must be a numeric IPv4 ADDR:PORT or [IPv6]:PORT, "
           "such as 192.0.2.1:4420 or [2001:db8::1]:4420", address);
  return false;
}

/* A string member into dst of len bytes. */
static int get_string(json_t *v, const char *key, char *dst, size_t len, struct vd_spec_error *e)
{
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
    return vd_spec_fail(e, "invalid_field", key, "field '%s' must be a string", key);
  if (json_string_length(v) >= len)
    return vd_spec_fail(e, "invalid_field", key, "field '%s' is longer than %zu bytes", key,
                        len - 1);
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

/* One allowed host: {"nqn": ..., "key_file": ...}. */
static int get_host(json_t *o, size_t i, struct vd_export_host *h, struct vd_spec_error *e)
{
  const char *key;
  char msg[300];
  json_t *v;

  if (!json_is_object(o) || !json_is_string(json_object_get(o, "nqn")))
    return vd_spec_fail(e, "invalid_field", "hosts", "hosts[%zu] must be an object with "
                        "\"nqn\" (and \"key_file\" for DH-HMAC-CHAP)", i);
  json_object_foreach(o, key, v) {
    if (!strcmp(key, "nqn")) {
      if (get_string(v, "hosts", h->nqn, sizeof h->nqn, e))
        return -EINVAL;
    } else if (!strcmp(key, "key_file")) {
      if (get_string(v, "hosts", h->key_file, sizeof h->key_file, e))
        return -EINVAL;
      if (h->key_file[0] != '/')
        return vd_spec_fail(e, "invalid_field", "hosts", "hosts[%zu].key_file must be an "
                            "absolute path", i);
    } else {
      return vd_spec_fail(e, "unknown_field", "hosts", "unknown field hosts[%zu].%s; known "
                          "fields: nqn, key_file", i, key);
    }
  }
  if (!vd_nqn_valid(h->nqn, msg, sizeof msg))
    return vd_spec_fail(e, "invalid_field", "hosts", "hosts[%zu]: %s", i, msg);
  return 0;
}

/* The hosts array. */
static int get_hosts(json_t *v, struct vd_export_spec *x, struct vd_spec_error *e)
{
  json_t *h;
  size_t i;

  if (!json_is_array(v) || json_array_size(v) > VD_EXPORT_MAX_HOSTS)
    return vd_spec_fail(e, "invalid_field", "hosts", "field 'hosts' must be an array of at "
                        "most %d hosts", VD_EXPORT_MAX_HOSTS);
  json_array_foreach(v, i, h) {
    if (get_host(h, i, &x->hosts[i], e))
      return -EINVAL;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(x->hosts[j].nqn, x->hosts[i].nqn))
        return vd_spec_fail(e, "invalid_field", "hosts", "host %s is listed twice",
                            x->hosts[i].nqn);
  }
  x->nhosts = (unsigned)json_array_size(v);
  return 0;
}

/* Read an export. */
int vd_export_from_json(json_t *o, bool nqn_ok, struct vd_export_spec *x,
                        struct vd_spec_error *e)
{
  char addr[46], port[6], msg[300];
  const char *key;
  bool v6;
  json_t *v;

  memset(x, 0, sizeof *x);
  if (!json_is_object(o))
    return vd_spec_fail(e, "invalid_json", NULL, "an export must be a JSON object");
  json_object_foreach(o, key, v) {
    int rc = 0;
    if (!strcmp(key, "nqn") && nqn_ok)
      rc = get_string(v, key, x->nqn, sizeof x->nqn, e);
    else if (!strcmp(key, "nvme_tcp"))
      rc = get_string(v, key, x->address, sizeof x->address, e);
    else if (!strcmp(key, "hosts"))
      rc = get_hosts(v, x, e);
    else if (!strcmp(key, "allow_any_host") && json_is_boolean(v))
      x->allow_any_host = json_is_true(v);
    else if (!strcmp(key, "allow_any_host"))
      rc = vd_spec_fail(e, "invalid_field", key, "field '%s' must be true or false", key);
    else
      rc = vd_spec_fail(e, "unknown_field", key, "unknown field '%s'; known fields: %s"
                        "nvme_tcp, hosts, allow_any_host", key, nqn_ok ? "nqn, " : "");
    if (rc)
      return rc;
  }
  if (!x->address[0])
    return vd_spec_fail(e, "missing_field", "nvme_tcp", "field 'nvme_tcp' (ADDR:PORT) is "
                        "required");
  if (!vd_export_address(x->address, addr, port, &v6, msg, sizeof msg))
    return vd_spec_fail(e, "invalid_field", "nvme_tcp", "%s", msg);
  if (nqn_ok && !vd_nqn_valid(x->nqn, msg, sizeof msg))
    return vd_spec_fail(e, "invalid_field", "nqn", "%s", msg);
  if (!x->nhosts && !x->allow_any_host)
    return vd_spec_fail(e, "missing_field", "hosts", "name the hosts let in (\"hosts\"), or "
                        "set \"allow_any_host\" to let in any host that reaches the port");
  return 0;
}

/* An export as JSON. */
json_t *vd_export_to_json(const struct vd_export_spec *x)
{
  json_t *hosts = json_array();
  json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "nqn", x->nqn, "nvme_tcp", x->address,
                        "allow_any_host", x->allow_any_host, "hosts", hosts);

  for (unsigned i = 0; o && i < x->nhosts; i++) {
    json_t *h = json_pack("{s:s}", "nqn", x->hosts[i].nqn);
    if (h && x->hosts[i].key_file[0])
      json_object_set_new(h, "key_file", json_string(x->hosts[i].key_file));
    if (!h || json_array_append_new(hosts, h)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}
