/* netlink.c: the kernel NBD driver's generic netlink family ("nbd"),
 * through libnl-genl: connect a device with several sockets, resize it,
 * disconnect it.
 *
 * Each call opens its own netlink socket: attach and detach are rare, and
 * a private socket needs no lock.  Errors come back as the kernel's own
 * -errno (read from the NLMSG_ERROR message), not libnl's coarser codes.
 */
#include "config.h"

#include <errno.h>
#include <linux/nbd-netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "nbd-internal.h"

/* NBD_CFLAG_*: in <linux/nbd.h>, which clashes with nbd.h's names. */
#define NBD_CFLAG_DESTROY_ON_DISCONNECT (1u << 0)

/* What one request brings back. */
struct nl_result {
  int err;      /* the kernel's -errno, 0 on success */
  int index;    /* NBD_ATTR_INDEX of a reply, -1 if none */
};

/* Callback: note the device index of a reply. */
static int on_valid(struct nl_msg *msg, void *arg)
{
  struct nl_result *r = arg;
  struct nlattr *tb[NBD_ATTR_MAX + 1];

  if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, NBD_ATTR_MAX, NULL) == 0 && tb[NBD_ATTR_INDEX])
    r->index = (int)nla_get_u32(tb[NBD_ATTR_INDEX]);
  return NL_OK;
}

/* Callback: keep the kernel's errno from an error reply. */
static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
  struct nl_result *r = arg;
  (void)who;
  r->err = e->error;
  return NL_STOP;
}

/* Open a generic netlink socket and find the nbd family (resolving it
 * may load the nbd module).  0, or -ENOENT when the family is missing. */
static int nl_open(struct nl_sock **out, int *family)
{
  struct nl_sock *sk = nl_socket_alloc();
  int rc;

  if (!sk)
    return -ENOMEM;
  if (genl_connect(sk) < 0) {
    rc = -EPROTONOSUPPORT; /* no generic netlink at all */
    goto out_free;
  }
  *family = genl_ctrl_resolve(sk, NBD_GENL_FAMILY_NAME);
  if (*family < 0) {
    rc = -ENOENT;
    goto out_free;
  }
  *out = sk;
  return 0;

out_free:
  nl_socket_free(sk);
  return rc;
}

/* Send msg (freed here) on sk and wait for the kernel's answer.  0 or the kernel's -errno; r->index from the reply. */
static int nl_call(struct nl_sock *sk, struct nl_msg *msg, struct nl_result *r)
{
  struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
  int rc;

  r->err = 0;
  r->index = -1;
  if (!cb) {
    nlmsg_free(msg);
    return -ENOMEM;
  }
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
  nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
  nl_socket_set_cb(sk, cb);
  rc = nl_send_sync(sk, msg); /* frees msg, reads up to the ACK or error */
  nl_cb_put(cb);
  if (r->err)
    return r->err;
  return rc < 0 ? -EIO : 0;
}

/* Start a message for cmd on the family. */
static struct nl_msg *nl_msg_for(int family, uint8_t cmd)
{
  struct nl_msg *msg = nlmsg_alloc();
  if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd,
                          NBD_GENL_VERSION)) {
    nlmsg_free(msg);
    return NULL;
  }
  return msg;
}

/* True when the kernel has the nbd netlink family (loading the module on
 * demand where the kernel can). */
bool nbd_nl_available(void)
{
  struct nl_sock *sk;
  int family;
  if (nl_open(&sk, &family))
    return false;
  nl_socket_free(sk);
  return true;
}

/* NBD_CMD_CONNECT with every socket of req; the device is destroyed once
 * it is disconnected and closed.  0 with *index set, or -errno. */
int nbd_nl_connect(const struct nbd_nl_connect *req, int *index)
{
  struct nl_result r;
  struct nl_sock *sk;
  struct nl_msg *msg;
  struct nlattr *socks, *item;
  int family, rc;

  rc = nl_open(&sk, &family);
  if (rc)
    return rc;
  msg = nl_msg_for(family, NBD_CMD_CONNECT);
  if (!msg) {
    rc = -ENOMEM;
    goto out_sock;
  }
  if ((req->index >= 0 && nla_put_u32(msg, NBD_ATTR_INDEX, (uint32_t)req->index) < 0) ||
      nla_put_u64(msg, NBD_ATTR_SIZE_BYTES, req->size) < 0 ||
      nla_put_u64(msg, NBD_ATTR_BLOCK_SIZE_BYTES, req->block_size) < 0 ||
      nla_put_u64(msg, NBD_ATTR_SERVER_FLAGS, req->server_flags) < 0 ||
      nla_put_u64(msg, NBD_ATTR_CLIENT_FLAGS, NBD_CFLAG_DESTROY_ON_DISCONNECT) < 0 ||
      nla_put_u64(msg, NBD_ATTR_TIMEOUT, req->timeout_s) < 0 ||
      !(socks = nla_nest_start(msg, NBD_ATTR_SOCKETS)))
    goto out_big;
  for (unsigned i = 0; i < req->nfds; i++) {
    if (!(item = nla_nest_start(msg, NBD_SOCK_ITEM)) ||
        nla_put_u32(msg, NBD_SOCK_FD, (uint32_t)req->fds[i]) < 0)
      goto out_big;
    nla_nest_end(msg, item);
  }
  nla_nest_end(msg, socks);
  rc = nl_call(sk, msg, &r);
  if (!rc && r.index < 0)
    rc = -EPROTO; /* no index in the reply: nothing to detach later */
  if (!rc)
    *index = r.index;
  goto out_sock;

out_big:
  nlmsg_free(msg);
  rc = -EMSGSIZE;
out_sock:
  nl_socket_free(sk);
  return rc;
}

/* cmd for /dev/nbd<index>, with its size in bytes when bytes is not 0:
 * 0 or -errno. */
static int nl_device_cmd(uint8_t cmd, int index, uint64_t bytes)
{
  struct nl_result r;
  struct nl_sock *sk;
  struct nl_msg *msg;
  int family, rc;

  rc = nl_open(&sk, &family);
  if (rc)
    return rc;
  msg = nl_msg_for(family, cmd);
  if (!msg || nla_put_u32(msg, NBD_ATTR_INDEX, (uint32_t)index) < 0 ||
      (bytes && nla_put_u64(msg, NBD_ATTR_SIZE_BYTES, bytes) < 0)) {
    nlmsg_free(msg);
    rc = -ENOMEM;
  } else {
    rc = nl_call(sk, msg, &r);
  }
  nl_socket_free(sk);
  return rc;
}

/* NBD_CMD_DISCONNECT of /dev/nbd<index>: 0 or -errno. */
int nbd_nl_disconnect(int index)
{
  return nl_device_cmd(NBD_CMD_DISCONNECT, index, 0);
}

/* NBD_CMD_RECONFIGURE of /dev/nbd<index> with its new size (the kernel
 * sets the capacity and tells udev): 0 or -errno. */
int nbd_nl_resize(int index, uint64_t bytes)
{
  return nl_device_cmd(NBD_CMD_RECONFIGURE, index, bytes);
}
