/* ublk.h: the ublk frontend: each volume becomes /dev/ublkbN, served by
 * one io_uring thread per queue straight from pinned staging memory.
 * Its whole interface is the frontend table entry below. */
#ifndef VRAMD_UBLK_H
#define VRAMD_UBLK_H

#include "frontend.h"

extern const struct vd_frontend vd_frontend_ublk;

#endif
