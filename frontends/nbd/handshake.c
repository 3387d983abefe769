/* handshake.c: fixed newstyle negotiation: options until the client picks
 * an export with NBD_OPT_GO or NBD_OPT_EXPORT_NAME, or leaves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd-internal.h"
#include "util.h"
#include "volume.h"
#include "vramd.h"

/* State of one negotiation. */
struct hs {
  struct vramd *d;
  struct nbd_conn *c;
  bool no_zeroes;
  struct nbd_option o;
  uint8_t data[NBD_MAX_OPTION];
  struct nbd_go go;
};

/* Send an option reply header and its payload. */
static int reply(struct hs *h, uint32_t type, const void *data, uint32_t len)
{
  uint8_t hdr[20];
  int rc;
  nbd_option_reply_encode(hdr, h->o.option, type, len);
  rc = nbd_send_full(h->c->fd, hdr, sizeof hdr);
  return rc || !len ? rc : nbd_send_full(h->c->fd, data, len);
}

/* Send an error reply with a message for humans. */
static int reply_err(struct hs *h, uint32_t type, const char *msg)
{
  return reply(h, type, msg, (uint32_t)strlen(msg));
}

/* Look up an export: nbd volumes only, never one being deleted. */
static struct vd_volume *find_export(struct hs *h, const char *name)
{
  struct vd_volume *v = vd_registry_get(&h->d->reg, name);
  if (v && (v->spec.frontend != VD_FRONTEND_NBD || atomic_load(&v->deleting))) {
    vd_volume_put(v);
    v = NULL;
  }
  return v;
}

/* NBD_OPT_LIST: one NBD_REP_SERVER per nbd volume, then ACK. */
static int opt_list(struct hs *h)
{
  struct vd_volume **vols;
  int n, rc = 0;

  if (h->o.length)
    return reply_err(h, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
  n = vd_registry_list(&h->d->reg, &vols);
  if (n < 0)
    return reply_err(h, NBD_REP_ERR_SHUTDOWN, "out of memory");
  for (int i = 0; i < n; i++) {
    uint8_t buf[4 + VD_NAME_MAX + 1];
    uint32_t len = (uint32_t)strlen(vols[i]->spec.name);
    nbd_put32(buf, len);
    memcpy(buf + 4, vols[i]->spec.name, len);
    if (!rc && vols[i]->spec.frontend == VD_FRONTEND_NBD)
      rc = reply(h, NBD_REP_SERVER, buf, 4 + len);
    vd_volume_put(vols[i]);
  }
  free(vols);
  return rc ? rc : reply(h, NBD_REP_ACK, NULL, 0);
}

/* Send the NBD_REP_INFO replies a GO or INFO asked for (EXPORT and
 * BLOCK_SIZE always: min 1 means any client's I/O is acceptable). */
static int send_infos(struct hs *h, struct vd_volume *v)
{
  uint8_t b[2 + 256];
  int rc;

  nbd_put16(b, NBD_INFO_EXPORT);
  nbd_put64(b + 2, v->size);
  nbd_put16(b + 10, nbd_transmission_flags());
  rc = reply(h, NBD_REP_INFO, b, 12);
  nbd_put16(b, NBD_INFO_BLOCK_SIZE);
  nbd_put32(b + 2, NBD_MIN_BLOCK);
  nbd_put32(b + 6, NBD_PREF_BLOCK);
  nbd_put32(b + 10, nbd_max_payload(h->d->cfg.nbd_staging));
  rc = rc ? rc : reply(h, NBD_REP_INFO, b, 14);
  if (!rc && h->go.want_name) {
    size_t n = strlen(v->spec.name);
    nbd_put16(b, NBD_INFO_NAME);
    memcpy(b + 2, v->spec.name, n);
    rc = reply(h, NBD_REP_INFO, b, (uint32_t)(2 + n));
  }
  if (!rc && h->go.want_description) {
    int n = snprintf((char *)b + 2, sizeof b - 2, "vramd %s volume over %u device%s",
                     vd_layout_name(v->spec.layout), v->spec.ndev,
                     v->spec.ndev == 1 ? "" : "s");
    nbd_put16(b, NBD_INFO_DESCRIPTION);
    rc = reply(h, NBD_REP_INFO, b, (uint32_t)(2 + n));
  }
  return rc;
}

/* Attach v and get the transmission state ready; drops v on failure.
 * Returns 0, -EUSERS, -ENOMEM or -ESHUTDOWN. */
static int enter_transmission(struct hs *h, struct vd_volume *v, struct nbd_xfer **xfer)
{
  int rc = nbd_xfer_new(h->d, h->c->fd, xfer);
  if (rc) {
    vd_volume_put(v);
    return rc;
  }
  if (nbd_conn_attach(h->c, v)) {
    nbd_xfer_free(*xfer);
    *xfer = NULL;
    return -ESHUTDOWN;
  }
  return 0;
}

/* Explain why an export cannot be used. */
static int reply_unknown(struct hs *h)
{
  char msg[NBD_MAX_STRING + 128];
  if (h->go.name_len == 0)
    snprintf(msg, sizeof msg, "vramd has no default export: name a volume (NBD_OPT_LIST lists them)");
  else
    snprintf(msg, sizeof msg, "no volume '%s' is exported over NBD", h->go.name);
  return reply_err(h, NBD_REP_ERR_UNKNOWN, msg);
}

/* Tell the client why its session cannot start. */
static int reply_no_session(struct hs *h, int rc)
{
  char msg[160], sz[32];
  if (rc == -EUSERS)
    snprintf(msg, sizeof msg, "vramd serves at most %u NBD sessions at a time "
             "(nbd-max-sessions); try again when one ends", h->d->cfg.nbd_max_sessions);
  else if (rc == -ENOMEM)
    snprintf(msg, sizeof msg, "vramd cannot pin %s of staging for another NBD session "
             "(out of memory)", vd_format_size(h->d->cfg.nbd_staging, sz, sizeof sz));
  else
    snprintf(msg, sizeof msg, "the volume is being deleted");
  return reply_err(h, NBD_REP_ERR_SHUTDOWN, msg);
}

/* NBD_OPT_GO / NBD_OPT_INFO.  Returns 1 when transmission starts. */
static int opt_go(struct hs *h, struct nbd_xfer **xfer)
{
  struct vd_volume *v;
  uint32_t e = nbd_go_parse(h->data, h->o.length, &h->go);
  int rc;

  if (e)
    return reply_err(h, e, "malformed NBD_OPT_GO/NBD_OPT_INFO data");
  v = h->go.name_len <= VD_NAME_MAX ? find_export(h, h->go.name) : NULL;
  if (!v)
    return reply_unknown(h);
  rc = send_infos(h, v);
  if (rc || h->o.option == NBD_OPT_INFO) {
    vd_volume_put(v);
    return rc ? rc : reply(h, NBD_REP_ACK, NULL, 0);
  }
  rc = enter_transmission(h, v, xfer);
  if (rc)
    return reply_no_session(h, rc);
  rc = reply(h, NBD_REP_ACK, NULL, 0);
  return rc ? rc : 1;
}

/* NBD_OPT_EXPORT_NAME: no way to report errors, so failures close. */
static int opt_export_name(struct hs *h, struct nbd_xfer **xfer)
{
  uint8_t b[8 + 2 + 124] = { 0 };
  struct vd_volume *v = NULL;
  char name[VD_NAME_MAX + 1];
  int rc;

  if (h->o.length <= VD_NAME_MAX) {
    memcpy(name, h->data, h->o.length);
    name[h->o.length] = '\0';
    if (strlen(name) == h->o.length)
      v = find_export(h, name);
  }
  if (!v)
    return -ENOENT;
  nbd_put64(b, v->size);
  nbd_put16(b + 8, nbd_transmission_flags());
  rc = enter_transmission(h, v, xfer);
  if (rc)
    return rc;
  rc = nbd_send_full(h->c->fd, b, h->no_zeroes ? 10 : sizeof b);
  return rc ? rc : 1;
}

/* Read (or skip) the option data; >0 means answered and done with it. */
static int read_option_data(struct hs *h)
{
  switch (nbd_option_length_class(h->o.length)) {
  case NBD_OPTLEN_READ:
    return nbd_recv_full(h->c->fd, h->data, h->o.length);
  case NBD_OPTLEN_SKIP: {
    int rc = nbd_skip(h->c->fd, h->o.length, h->data, sizeof h->data);
    if (rc)
      return rc;
    if (h->o.option == NBD_OPT_EXPORT_NAME)
      return -EINVAL;
    rc = reply_err(h, NBD_REP_ERR_TOO_BIG, "option data is too long");
    return rc ? rc : 1;
  }
  default:
    (void)reply_err(h, NBD_REP_ERR_TOO_BIG, "option data is too long; closing");
    return -E2BIG;
  }
}

/* Answer one option; 1 when transmission starts, <0 when the session ends. */
static int one_option(struct hs *h, struct nbd_xfer **xfer)
{
  uint8_t b[16];
  int rc = nbd_recv_full(h->c->fd, b, sizeof b);

  if (rc)
    return rc;
  nbd_option_decode(b, &h->o);
  if (h->o.magic != NBD_IHAVEOPT)
    return -EPROTO;
  rc = read_option_data(h);
  if (rc)
    return rc < 0 ? rc : 0;
  switch (h->o.option) {
  case NBD_OPT_EXPORT_NAME: return opt_export_name(h, xfer);
  case NBD_OPT_GO:
  case NBD_OPT_INFO: return opt_go(h, xfer);
  case NBD_OPT_LIST: return opt_list(h);
  case NBD_OPT_ABORT:
    (void)reply(h, NBD_REP_ACK, NULL, 0);
    return -ECONNABORTED;
  case NBD_OPT_STARTTLS:
    return reply_err(h, NBD_REP_ERR_UNSUP, "vramd does not do TLS; use the Unix socket or a trusted network");
  case NBD_OPT_STRUCTURED_REPLY:
    return reply_err(h, NBD_REP_ERR_UNSUP, "vramd sends simple replies only");
  default:
    return reply_err(h, NBD_REP_ERR_UNSUP, "option not supported");
  }
}

/* Greet, read the client flags, then answer options. */
int nbd_handshake(struct vramd *d, struct nbd_conn *c, struct nbd_xfer **xfer)
{
  struct hs *h = calloc(1, sizeof *h);
  uint8_t b[18];
  uint32_t cflags;
  int rc;

  if (!h)
    return -ENOMEM;
  h->d = d;
  h->c = c;
  nbd_put64(b, NBD_MAGIC);
  nbd_put64(b + 8, NBD_IHAVEOPT);
  nbd_put16(b + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  rc = nbd_send_full(c->fd, b, sizeof b);
  rc = rc ? rc : nbd_recv_full(c->fd, b, 4);
  if (rc)
    goto out_free;
  cflags = nbd_get32(b);
  /* The spec requires dropping clients that set unknown flags. */
  if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES) ||
      !(cflags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
    rc = -EPROTO;
    goto out_free;
  }
  h->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
  while ((rc = one_option(h, xfer)) == 0)
    ;
  if (rc > 0)
    rc = 0;
out_free:
  free(h);
  return rc;
}
