/* spec.h: a volume spec (what a user asks for) and its one codec.  A table
 * of fields (spec-field.h) reads and writes a spec as JSON (API bodies,
 * the state file) and as key=value text (vramd.conf, --volume, vramctl's
 * options); vramd and vramctl both use it. */
#ifndef VRAMD_SPEC_H
#define VRAMD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define VD_MAX_DEVICES 64
#define VD_MIN_STRIPE_UNIT 4096u
#define VD_MAX_STRIPE_UNIT (1u << 20)
#define VD_DEV_ID_MAX 16

/* mirror: copies of every byte on distinct devices (volmap.h). */
enum vd_layout { VD_LAYOUT_STRIPE = 0, VD_LAYOUT_CONCAT = 1, VD_LAYOUT_MIRROR = 2 };
#define VD_MIRROR_COPIES_DEFAULT 2
/* none: the volume keeps its VRAM but nothing exposes it (detached). */
enum vd_frontend_kind { VD_FRONTEND_NBD = 0, VD_FRONTEND_UBLK = 1, VD_FRONTEND_NONE = 2 };
/* thick: every extent made and zeroed at create; thin: chunks taken as
 * ranges are first written, given back when discarded. */
enum vd_provisioning { VD_PROV_THICK = 0, VD_PROV_THIN = 1 };
/* none: nothing checks the data; crc32c: a checksum per 4 KiB block in
 * VRAM, verified on every read; crc32c+parity: also an XOR parity block
 * per group of blocks, which rebuilds one bad block of a group
 * (docs/integrity.md). */
enum vd_integrity { VD_INTEGRITY_NONE = 0, VD_INTEGRITY_CRC32C = 1, VD_INTEGRITY_PARITY = 2 };

/* Longest persist path, with its NUL. */
#define VD_PERSIST_MAX 256

/* An NVMe/TCP export (daemon/export-volume.c): the subsystem NQN, fixed
 * when first exported so clients keep it across restarts; the listening
 * address; the hosts let in, each with a DH-HMAC-CHAP key file or none. */
#define VD_NQN_MAX 223
#define VD_EXPORT_MAX_HOSTS 8
#define VD_EXPORT_ADDR_MAX 64
struct vd_export_host {
  char nqn[VD_NQN_MAX + 1];
  char key_file[VD_PERSIST_MAX];      /* "": no DH-HMAC-CHAP */
};
struct vd_export_spec {
  char nqn[VD_NQN_MAX + 1];           /* "": not exported */
  char address[VD_EXPORT_ADDR_MAX];   /* "ADDR:PORT", "[V6ADDR]:PORT" */
  bool allow_any_host;
  unsigned nhosts;
  struct vd_export_host hosts[VD_EXPORT_MAX_HOSTS];
};

/* What a user asks for; validated by vd_volume_alloc. */
struct vd_volume_spec {
  char name[VD_NAME_MAX + 1];
  uint64_t size;                      /* requested bytes */
  unsigned size_free_pct;             /* 1-100: size is this share of the chosen
                                       * devices' free VRAM, fixed at create
                                       * ("50%FREE", "all"); 0: size is bytes */
  enum vd_layout layout;
  unsigned ndev;                      /* 0: every device of the pool */
  char dev_ids[VD_MAX_DEVICES][VD_DEV_ID_MAX];
  uint64_t stripe_unit;               /* 0: VD_DEFAULT_STRIPE_UNIT */
  int copies;                         /* mirror: copies of each byte, striped over
                                       * sets of that many devices; -1: 2 */
  enum vd_frontend_kind frontend;
  enum vd_provisioning provisioning;
  bool attach;                        /* nbd: also attach /dev/nbdN */
  int index;                          /* wanted /dev/nbdN (attach) or ublk id; -1: any */
  char persist[VD_PERSIST_MAX];       /* image saved at stop, loaded at start; "": none */
  enum vd_integrity integrity;
  struct vd_export_spec export;       /* set by export, not by create */
};

/* Where a spec is read from or written to.  The forms share the table;
 * a row says in which of them its field is taken and required. */
enum vd_spec_form {
  VD_SPEC_BODY = 1,   /* POST /v1/volumes: strict, errors in API terms */
  VD_SPEC_SAVED = 2,  /* a definition in the state file (version 1) */
  VD_SPEC_TEXT = 4,   /* "name=x,size=12G,devices=gpu0+gpu1,unit=64K" */
  VD_SPEC_EXPOSE = 8, /* POST /v1/volumes/{name}/attach: frontend, attach, index */
};

/* Why a JSON spec was refused: the field, an API error code and a message. */
struct vd_spec_error {
  const char *code;   /* "invalid_field", "invalid_name", "unknown_field", "missing_field" */
  char field[64];     /* "" when not about one field */
  char message[256];
};

/* Fill e and return -EINVAL. */
int vd_spec_fail(struct vd_spec_error *e, const char *code, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct json_t;

/* An empty spec: every field at its default (index -1: any). */
void vd_spec_init(struct vd_volume_spec *s);

/* Read a JSON object in form BODY or SAVED into s: unknown fields, wrong
 * types and missing required fields are refused by name.  0 or -EINVAL
 * with e filled. */
int vd_spec_from_json(struct json_t *o, enum vd_spec_form form, struct vd_volume_spec *s,
                      struct vd_spec_error *e);
/* s as a JSON object in form BODY (what vramctl sends) or SAVED (the
 * state file's definition, as version 1 wrote it); NULL without memory. */
struct json_t *vd_spec_to_json(const struct vd_volume_spec *s, enum vd_spec_form form);

/* Read "key=value,key=value" into s.  0 or -EINVAL with err filled
 * ("volume: ..." as vramd.conf reports it). */
int vd_spec_from_text(const char *str, struct vd_volume_spec *s, char *err, size_t errlen);
/* s as "key=value,..." that vd_spec_from_text reads back; -ENOSPC when
 * len is too short. */
int vd_spec_to_text(const struct vd_volume_spec *s, char *buf, size_t len);
/* Set one field of s from its text form (key as in vd_spec_from_text);
 * err, on -EINVAL, says what is wrong without naming where it came from. */
int vd_spec_set_text(struct vd_volume_spec *s, const char *key, const char *value,
                     char *err, size_t errlen);
/* The rules between fields, on a spec set field by field: -EINVAL with
 * err (in text terms) when one is broken. */
int vd_spec_check_text(const struct vd_volume_spec *s, char *err, size_t errlen);

/* attach with a frontend other than nbd, or an index with no kernel
 * device to number: -EINVAL with err (in API and text terms alike). */
int vd_spec_check_exposure(const struct vd_volume_spec *s, char *err, size_t errlen);

/* An export as JSON: {"nqn", "nvme_tcp", "hosts": [{"nqn", "key_file"}],
 * "allow_any_host"}; the body of POST .../export has no "nqn" (nqn_ok
 * false).  0 or -EINVAL with e filled; NULL without memory. */
int vd_export_from_json(struct json_t *o, bool nqn_ok, struct vd_export_spec *x,
                        struct vd_spec_error *e);
struct json_t *vd_export_to_json(const struct vd_export_spec *x);
/* Split "ADDR:PORT" or "[V6ADDR]:PORT" (numeric, port 1-65535) into its
 * parts (addr: 46 bytes, port: 6); false with err when it is no such. */
bool vd_export_address(const char *address, char *addr, char *port, bool *v6, char *err,
                       size_t errlen);
/* Whether nqn is an NVMe Qualified Name as the NVMe base specification
 * has it: "nqn.yyyy-mm.reverse.domain:anything" or the UUID form, at most
 * 223 bytes; false with err saying what is wrong. */
bool vd_nqn_valid(const char *nqn, char *err, size_t errlen);

/* Names of layouts and frontends: parse (-EINVAL when unknown) and print. */
int vd_layout_parse(const char *s, enum vd_layout *out);
const char *vd_layout_name(enum vd_layout l);
int vd_frontend_parse(const char *s, enum vd_frontend_kind *out);
const char *vd_frontend_name(enum vd_frontend_kind k);
const char *vd_provisioning_name(enum vd_provisioning p);
const char *vd_integrity_name(enum vd_integrity i);

#endif
