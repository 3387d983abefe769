/* ublk.h: the ublk frontend: each volume becomes /dev/ublkbN, served by
 * one io_uring thread per queue straight from pinned staging memory.
 * Its whole interface is the frontend table entry below. */
#ifndef VRAMD_UBLK_H
#define VRAMD_UBLK_H

#include "frontend.h"

/* Per-queue sizes: depth tags of UBLK_IO_BYTES each, pinned at add time. */
#define VD_UBLK_MAX_QUEUES 4
#define VD_UBLK_QUEUE_DEPTH 32
#define VD_UBLK_IO_BYTES (256u << 10)

extern const struct vd_frontend vd_frontend_ublk;

#endif
