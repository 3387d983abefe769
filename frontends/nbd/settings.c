/* settings.c: the NBD frontend's own keys in vramd.conf and on the command
 * line (config keys equal long option names), their defaults and help. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "util.h"

_Static_assert(sizeof(struct nbd_settings) <= sizeof(struct vd_frontend_config),
               "struct nbd_settings outgrew VD_FRONTEND_CONFIG_BYTES");

enum { K_SOCKET, K_LISTEN, K_STAGING, K_MAX_SESSIONS, K_ATTACH_CONNECTIONS, K_TLS, K_TLS_PSK,
       K_TLS_CERTS, K_TLS_PSK_VOLUMES };

static const char *const keys[] = {
  [K_SOCKET] = "nbd-socket",
  [K_LISTEN] = "nbd-listen",
  [K_STAGING] = "nbd-staging",
  [K_MAX_SESSIONS] = "nbd-max-sessions",
  [K_ATTACH_CONNECTIONS] = "nbd-attach-connections",
  [K_TLS] = "nbd-tls",
  [K_TLS_PSK] = "nbd-tls-psk",
  [K_TLS_CERTS] = "nbd-tls-certificates",
  [K_TLS_PSK_VOLUMES] = "nbd-tls-psk-volumes",
  NULL,
};

static const char *const args[] = {
  [K_SOCKET] = "PATH", [K_LISTEN] = "HOST:PORT", [K_STAGING] = "SIZE",
  [K_MAX_SESSIONS] = "N", [K_ATTACH_CONNECTIONS] = "N", [K_TLS] = "off|on|require",
  [K_TLS_PSK] = "FILE", [K_TLS_CERTS] = "DIR", [K_TLS_PSK_VOLUMES] = "FILE",
};

/* nbd-tls's values, by enum nbd_tls_mode. */
static const char *const tls_modes[] = {
  [NBD_TLS_OFF] = "off", [NBD_TLS_ON] = "on", [NBD_TLS_REQUIRE] = "require",
};

/* Staging is handed out in chunks. */
static const struct vd_size_rule staging_rule = {
  NBD_STAGING_MIN, NBD_STAGING_MAX, NBD_CHUNK, "the staging chunk"
};

/* The settings in a frontend config's bytes, to change. */
static struct nbd_settings *settings_of(struct vd_frontend_config *c)
{
  return (struct nbd_settings *)(void *)c->u.b;
}

/* The same, to read. */
const struct nbd_settings *nbd_settings_of(const struct vd_frontend_config *c)
{
  return (const struct nbd_settings *)(const void *)c->u.b;
}

/* One kernel NBD connection per online CPU, up to NBD_ATTACH_CONNS_AUTO:
 * the kernel maps each CPU's requests to one connection. */
static unsigned default_attach_connections(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > NBD_ATTACH_CONNS_AUTO ? NBD_ATTACH_CONNS_AUTO : (unsigned)n;
}

/* The index of key in keys[]; the NULL's index for another. */
static unsigned key_index(const char *key)
{
  unsigned k = 0;
  while (keys[k] && strcmp(keys[k], key))
    k++;
  return k;
}

/* Built-in defaults (docs/design-decisions.md says why). */
static void defaults(struct vd_frontend_config *c)
{
  struct nbd_settings *s = settings_of(c);

  memset(c, 0, sizeof *c);
  snprintf(s->socket, sizeof s->socket, "/run/vramd/nbd.sock");
  s->staging = NBD_STAGING_DEFAULT;
  s->max_sessions = NBD_SESSIONS_DEFAULT;
  s->attach_connections = default_attach_connections();
}

/* nbd-tls: off, on or require; a build without GnuTLS takes off only. */
static int tls_mode(const char *key, const char *v, int *out, char *err, size_t errlen)
{
  for (int m = NBD_TLS_OFF; m <= NBD_TLS_REQUIRE; m++)
    if (!strcmp(v, tls_modes[m])) {
#ifndef HAVE_GNUTLS
      if (m != NBD_TLS_OFF) {
        snprintf(err, errlen, "%s = %s: this vramd was built without GnuTLS "
                 "(configure --without-gnutls); rebuild with libgnutls28-dev installed, "
                 "or set %s = off", key, v, key);
        return -EINVAL;
      }
#endif
      *out = m;
      return 0;
    }
  snprintf(err, errlen, "%s = %s: use off, on (TLS offered) or require (TLS only, "
           "on the TCP listener)", key, v);
  return -EINVAL;
}

/* The name of an nbd-tls mode, for logs and GET /v1. */
const char *nbd_tls_mode_name(int mode)
{
  return mode >= NBD_TLS_OFF && mode <= NBD_TLS_REQUIRE ? tls_modes[mode] : "?";
}

/* Apply one of the keys above. */
static int config(struct vd_frontend_config *c, const char *key, const char *v,
                  char *err, size_t errlen)
{
  struct nbd_settings *s = settings_of(c);

  switch (key_index(key)) {
  case K_SOCKET:
    return vd_setting_str(key, v, s->socket, sizeof s->socket, err, errlen);
  case K_LISTEN:
    return vd_setting_str(key, v, s->listen, sizeof s->listen, err, errlen);
  case K_STAGING:
    return vd_setting_size(key, v, &staging_rule, &s->staging, err, errlen);
  case K_MAX_SESSIONS:
    return vd_setting_uint(key, v, 1, NBD_SESSIONS_MAX, &s->max_sessions, err, errlen);
  case K_ATTACH_CONNECTIONS:
    return vd_setting_uint(key, v, 1, NBD_ATTACH_CONNS_MAX, &s->attach_connections, err,
                           errlen);
  case K_TLS:
    return tls_mode(key, v, &s->tls, err, errlen);
  case K_TLS_PSK:
    return vd_setting_str(key, v, s->tls_psk, sizeof s->tls_psk, err, errlen);
  case K_TLS_CERTS:
    return vd_setting_str(key, v, s->tls_certs, sizeof s->tls_certs, err, errlen);
  case K_TLS_PSK_VOLUMES:
    return vd_setting_str(key, v, s->tls_psk_volumes, sizeof s->tls_psk_volumes, err, errlen);
  default:
    return VD_CONFIG_NOT_MINE;
  }
}

/* The socket, the TCP listener and nbd-tls, for GET /v1 and the
 * start-up log. */
static const char *get_str(const struct vd_frontend_config *c, const char *key)
{
  const struct nbd_settings *s = nbd_settings_of(c);
  if (!strcmp(key, keys[K_SOCKET]))
    return s->socket;
  if (!strcmp(key, keys[K_LISTEN]))
    return s->listen;
  if (!strcmp(key, keys[K_TLS]))
    return nbd_tls_mode_name(s->tls);
  return NULL;
}

/* A key's value for --help; the attach connections are worked out per
 * host, so they show how. */
static int show(const struct vd_frontend_config *c, const char *key, char *buf, size_t len)
{
  const struct nbd_settings *s = nbd_settings_of(c);

  switch (key_index(key)) {
  case K_SOCKET: snprintf(buf, len, "%s", s->socket); return 0;
  case K_LISTEN: snprintf(buf, len, "%s", s->listen[0] ? s->listen : "none"); return 0;
  case K_STAGING: vd_size_typed(s->staging, buf, len); return 0;
  case K_MAX_SESSIONS: snprintf(buf, len, "%u", s->max_sessions); return 0;
  case K_ATTACH_CONNECTIONS:
    snprintf(buf, len, "auto; one per online CPU, at most %u", NBD_ATTACH_CONNS_AUTO);
    return 0;
  case K_TLS: snprintf(buf, len, "%s", nbd_tls_mode_name(s->tls)); return 0;
  case K_TLS_PSK: snprintf(buf, len, "%s", s->tls_psk[0] ? s->tls_psk : "none"); return 0;
  case K_TLS_CERTS: snprintf(buf, len, "%s", s->tls_certs[0] ? s->tls_certs : "none"); return 0;
  case K_TLS_PSK_VOLUMES:
    snprintf(buf, len, "%s", s->tls_psk_volumes[0] ? s->tls_psk_volumes : "none");
    return 0;
  default: return -ENOENT;
  }
}

const struct vd_frontend_settings nbd_settings = {
  .keys = keys,
  .args = args,
  .help = "NBD frontend options",
  .defaults = defaults,
  .config = config,
  .get_str = get_str,
  .show = show,
};
