/* tls-creds.c: the credentials NBD clients authenticate with, loaded
 * once at start: a PSK file (psktool's "identity:hexkey" lines), an
 * X.509 directory (nbdkit's and qemu's layout) or both, and the volumes
 * each PSK identity is limited to (nbd-tls-psk-volumes).  Keys stay in
 * memory: a handshake reads no file, and a changed file takes a restart. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "nbd-internal.h"
#include "tls.h"
#include "util.h"

/* PSK and ECDHE-PSK next to the certificate suites; no DHE-PSK, whose
 * per-handshake cost is far above the others'. */
#define PRIORITY "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:+ECDHE-PSK:+PSK:%SERVER_PRECEDENCE"
#define LINE_MAX_BYTES 4096

/* One PSK identity: its key, and the volumes it may use (vols NULL: all). */
struct psk_id {
  char name[NBD_TLS_IDENTITY_MAX + 1];
  unsigned char key[NBD_TLS_KEY_MAX];
  unsigned key_len;
  char **vols;                   /* NULL-terminated */
};

static struct {
  gnutls_priority_t prio;
  gnutls_psk_server_credentials_t psk;
  gnutls_certificate_credentials_t x509;
  bool verify_clients;           /* ca-cert.pem: client certificates required */
  struct psk_id *ids;
  unsigned nids;
} C;

/* The identity named id, or NULL. */
static struct psk_id *psk_find(const char *id)
{
  for (unsigned i = 0; i < C.nids; i++)
    if (!strcmp(C.ids[i].name, id))
      return &C.ids[i];
  return NULL;
}

/* GnuTLS asks for the key of the identity a client names; -1 refuses
 * the handshake (an unknown identity is no different from a wrong key). */
static int psk_key(gnutls_session_t s, const char *id, gnutls_datum_t *key)
{
  struct psk_id *p = psk_find(id);
  (void)s;
  if (!p || !(key->data = gnutls_malloc(p->key_len)))
    return -1;
  memcpy(key->data, p->key, p->key_len);
  key->size = p->key_len;
  return 0;
}

/* Warn when a secret is readable by anyone but its owner. */
static void check_private(const char *what, const char *path)
{
  struct stat st;
  if (!stat(path, &st) && (st.st_mode & 077))
    vd_warn("nbd: %s %s can be read by its group or others (mode %03o): chmod 600 it",
            what, path, (unsigned)(st.st_mode & 0777));
}

/* Hex digits to bytes: the count, or -1 for odd lengths, other
 * characters or more than max bytes. */
static int hex_decode(const char *h, size_t len, unsigned char *out, size_t max)
{
  if (len % 2 || len / 2 > max || !len)
    return -1;
  for (size_t i = 0; i < len; i += 2) {
    char b[3] = { h[i], h[i + 1], 0 };
    if (!isxdigit((unsigned char)b[0]) || !isxdigit((unsigned char)b[1]))
      return -1;
    out[i / 2] = (unsigned char)strtoul(b, NULL, 16);
  }
  return (int)(len / 2);
}

/* A line without its newline; false at the end.  Lines over
 * LINE_MAX_BYTES are an error (*toolong). */
static bool read_line(FILE *f, char *buf, size_t len, bool *toolong)
{
  size_t n;
  if (!fgets(buf, (int)len, f))
    return false;
  n = strlen(buf);
  *toolong = n == len - 1 && buf[n - 1] != '\n' && !feof(f);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  return true;
}

/* What a file's lines are handed to: 0 or -errno with err filled. */
typedef int line_fn(char *line, const char *where, char *err, size_t errlen);

/* Hand each line of the file at path (what names its setting) to fn,
 * but blank ones and "#" comments; a line over LINE_MAX_BYTES is an
 * error.  Returns the lines handed, or -errno with err filled. */
static int read_lines(const char *what, const char *path, line_fn *fn, char *err,
                      size_t errlen)
{
  char line[LINE_MAX_BYTES], where[300];
  unsigned lineno = 0;
  bool toolong = false;
  FILE *f = fopen(path, "re");
  int rc = 0, handed = 0;

  if (!f) {
    rc = -errno;
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(-rc));
    return rc;
  }
  while (!rc && read_line(f, line, sizeof line, &toolong)) {
    snprintf(where, sizeof where, "%s %s line %u", what, path, ++lineno);
    if (toolong) {
      snprintf(err, errlen, "%s: longer than %d bytes", where, LINE_MAX_BYTES - 1);
      rc = -EINVAL;
    } else if (line[0] && line[0] != '#') {
      rc = fn(line, where, err, errlen);
      handed++;
    }
  }
  fclose(f);
  return rc ? rc : handed;
}

/* One "identity:hexkey" line of the PSK file into ids[nids]. */
static int psk_line(char *line, const char *where, char *err, size_t errlen)
{
  char *colon = strchr(line, ':');
  struct psk_id *p;
  int k;

  if (!colon || colon == line || (size_t)(colon - line) > NBD_TLS_IDENTITY_MAX) {
    snprintf(err, errlen, "%s: expected IDENTITY:HEXKEY with an identity of 1 to %d bytes "
             "(psktool -u IDENTITY -p FILE writes one)", where, NBD_TLS_IDENTITY_MAX);
    return -EINVAL;
  }
  *colon = '\0';
  if (psk_find(line)) {
    snprintf(err, errlen, "%s: identity '%s' is there twice", where, line);
    return -EINVAL;
  }
  if (C.nids == NBD_TLS_PSK_MAX) {
    snprintf(err, errlen, "%s: more than %d identities", where, NBD_TLS_PSK_MAX);
    return -E2BIG;
  }
  p = &C.ids[C.nids];
  k = hex_decode(colon + 1, strlen(colon + 1), p->key, sizeof p->key);
  if (k < 0) {
    snprintf(err, errlen, "%s: the key of '%s' is not 1 to %d bytes in hex digits", where,
             line, NBD_TLS_KEY_MAX);
    return -EINVAL;
  }
  memcpy(p->name, line, (size_t)(colon - line) + 1); /* length checked above */
  p->key_len = (unsigned)k;
  p->vols = NULL;
  C.nids++;
  return 0;
}

/* Read the PSK file into C.ids. */
static int psk_load(const char *path, char *err, size_t errlen)
{
  int rc;

  C.ids = calloc(NBD_TLS_PSK_MAX, sizeof *C.ids);
  if (!C.ids)
    return -ENOMEM;
  rc = read_lines("nbd-tls-psk", path, psk_line, err, errlen);
  if (rc == -ENOENT)
    snprintf(err, errlen, "nbd-tls-psk %s: no such file (make one with psktool -u IDENTITY "
             "-p %s)", path, path);
  if (rc == 0) {
    snprintf(err, errlen, "nbd-tls-psk %s holds no IDENTITY:HEXKEY line", path);
    rc = -EINVAL;
  }
  if (rc < 0)
    return rc;
  check_private("nbd-tls-psk", path);
  return 0;
}

/* "vol1,vol2" into p->vols; every name must be a valid volume name. */
static int volumes_list(struct psk_id *p, char *list, const char *where, char *err,
                        size_t errlen)
{
  unsigned n = 0;
  char *save = NULL, *tok, why[128];

  p->vols = calloc(NBD_TLS_VOLUMES_MAX + 1, sizeof *p->vols);
  if (!p->vols)
    return -ENOMEM;
  for (tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
    if (!vd_name_valid(tok, why, sizeof why)) {
      snprintf(err, errlen, "%s: '%s' is no volume name: %s", where, tok, why);
      return -EINVAL;
    }
    if (n == NBD_TLS_VOLUMES_MAX) {
      snprintf(err, errlen, "%s: more than %d volumes", where, NBD_TLS_VOLUMES_MAX);
      return -E2BIG;
    }
    if (!(p->vols[n++] = strdup(tok)))
      return -ENOMEM;
  }
  return 0;
}

/* One "IDENTITY:vol1,vol2" line of nbd-tls-psk-volumes, the identity
 * one of the PSK file's. */
static int volumes_line(char *line, const char *where, char *err, size_t errlen)
{
  char *colon = strchr(line, ':');
  struct psk_id *p;

  if (!colon) {
    snprintf(err, errlen, "%s: expected IDENTITY:VOLUME[,VOLUME...]", where);
    return -EINVAL;
  }
  *colon = '\0';
  p = psk_find(line);
  if (!p || p->vols) {
    snprintf(err, errlen, "%s: identity '%s' %s", where, line,
             p ? "is there twice" : "is not in nbd-tls-psk");
    return -EINVAL;
  }
  return volumes_list(p, colon + 1, where, err, errlen);
}

/* The X.509 directory: server-cert.pem and server-key.pem, and with
 * ca-cert.pem client certificates (ca-crl.pem revokes some). */
static int x509_load(const char *dir, char *err, size_t errlen)
{
  char cert[300], key[300], ca[300], crl[300];
  int rc;

  snprintf(cert, sizeof cert, "%s/server-cert.pem", dir);
  snprintf(key, sizeof key, "%s/server-key.pem", dir);
  snprintf(ca, sizeof ca, "%s/ca-cert.pem", dir);
  snprintf(crl, sizeof crl, "%s/ca-crl.pem", dir);
  if (gnutls_certificate_allocate_credentials(&C.x509))
    return -ENOMEM;
  rc = gnutls_certificate_set_x509_key_file(C.x509, cert, key, GNUTLS_X509_FMT_PEM);
  if (rc < 0) {
    snprintf(err, errlen, "nbd-tls-certificates %s: server-cert.pem and server-key.pem: %s "
             "(both in PEM; certtool or openssl make them)", dir, gnutls_strerror(rc));
    return -EINVAL;
  }
  check_private("nbd-tls-certificates key", key);
  if (access(ca, F_OK))
    return 0;
  rc = gnutls_certificate_set_x509_trust_file(C.x509, ca, GNUTLS_X509_FMT_PEM);
  if (rc <= 0) {
    snprintf(err, errlen, "nbd-tls-certificates %s: ca-cert.pem: %s", dir,
             rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
    return -EINVAL;
  }
  if (!access(crl, F_OK) &&
      (rc = gnutls_certificate_set_x509_crl_file(C.x509, crl, GNUTLS_X509_FMT_PEM)) < 0) {
    snprintf(err, errlen, "nbd-tls-certificates %s: ca-crl.pem: %s", dir, gnutls_strerror(rc));
    return -EINVAL;
  }
  C.verify_clients = true;
  return 0;
}

/* Load what s names; nothing is kept on failure. */
int nbd_tls_creds_load(const struct nbd_settings *s, char *err, size_t errlen)
{
  int rc = 0;

  if (!s->tls_psk[0] && !s->tls_certs[0]) {
    snprintf(err, errlen, "nbd-tls = %s needs nbd-tls-psk FILE, nbd-tls-certificates DIR "
             "or both", nbd_tls_mode_name(s->tls));
    return -EINVAL;
  }
  if (s->tls_psk_volumes[0] && !s->tls_psk[0]) {
    snprintf(err, errlen, "nbd-tls-psk-volumes limits PSK identities: it needs nbd-tls-psk");
    return -EINVAL;
  }
  if (gnutls_priority_init(&C.prio, PRIORITY, NULL) < 0) {
    snprintf(err, errlen, "nbd: GnuTLS refuses the priority string %s", PRIORITY);
    return -EINVAL;
  }
  if (s->tls_psk[0]) {
    rc = psk_load(s->tls_psk, err, errlen);
    if (!rc && s->tls_psk_volumes[0])
      rc = read_lines("nbd-tls-psk-volumes", s->tls_psk_volumes, volumes_line, err, errlen);
    rc = rc < 0 ? rc : 0;
    if (!rc && gnutls_psk_allocate_server_credentials(&C.psk))
      rc = -ENOMEM;
    if (!rc)
      gnutls_psk_set_server_credentials_function(C.psk, psk_key);
  }
  if (!rc && s->tls_certs[0])
    rc = x509_load(s->tls_certs, err, errlen);
  if (rc == -ENOMEM)
    snprintf(err, errlen, "nbd: out of memory loading the TLS credentials");
  if (rc)
    nbd_tls_creds_free();
  return rc;
}

/* Free what load set up (keys are wiped first). */
void nbd_tls_creds_free(void)
{
  for (unsigned i = 0; i < C.nids; i++) {
    for (char **v = C.ids[i].vols; v && *v; v++)
      free(*v);
    free(C.ids[i].vols);
  }
  if (C.ids)
    gnutls_memset(C.ids, 0, NBD_TLS_PSK_MAX * sizeof *C.ids);
  free(C.ids);
  if (C.psk)
    gnutls_psk_free_server_credentials(C.psk);
  if (C.x509)
    gnutls_certificate_free_credentials(C.x509);
  if (C.prio)
    gnutls_priority_deinit(C.prio);
  memset(&C, 0, sizeof C);
}

/* "PSK (3 identities, 1 limited to named volumes) and X.509 (client
 * certificates required)". */
const char *nbd_tls_creds_describe(char *buf, size_t len)
{
  unsigned limited = 0;
  char psk[96] = "";

  for (unsigned i = 0; i < C.nids; i++)
    limited += C.ids[i].vols != NULL;
  if (C.psk)
    snprintf(psk, sizeof psk, "PSK (%u identit%s, %u limited to named volumes)", C.nids,
             C.nids == 1 ? "y" : "ies", limited);
  snprintf(buf, len, "%s%s%s", psk, C.psk && C.x509 ? " and " : "",
           !C.x509 ? "" : C.verify_clients ? "X.509 (client certificates required)" :
           "X.509 (no ca-cert.pem: any client is accepted, the link is only encrypted)");
  return buf;
}

/* Credentials and priorities for one new session. */
int nbd_tls_creds_apply(gnutls_session_t s)
{
  if (gnutls_priority_set(s, C.prio) ||
      (C.psk && gnutls_credentials_set(s, GNUTLS_CRD_PSK, C.psk)) ||
      (C.x509 && gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, C.x509)))
    return -ENOMEM;
  if (C.x509 && C.verify_clients) {
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert(s, NULL, 0);
  }
  return 0;
}

/* The volume list of identity, or NULL (every volume). */
const char *const *nbd_tls_creds_volumes(const char *identity)
{
  struct psk_id *p = identity ? psk_find(identity) : NULL;
  return p ? (const char *const *)p->vols : NULL;
}
