/* ublk-internal.h: what the files of frontends/ublk share with each other
 * (the control channel, devices, queues and tags); nothing outside
 * frontends/ublk includes it. */
#ifndef VRAMD_UBLK_INTERNAL_H
#define VRAMD_UBLK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <liburing.h>
#include <linux/ublk_cmd.h>

/* Linux 6.16's live resize, for headers older than the kernel. */
#ifndef UBLK_U_CMD_UPDATE_SIZE
#define UBLK_U_CMD_UPDATE_SIZE _IOWR('u', 0x15, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_F_UPDATE_SIZE
#define UBLK_F_UPDATE_SIZE (1ULL << 10)
#endif

#include "engine.h"
#include "ublk.h"
#include "volume.h"

/* Debian 12's headers predate these; values are the kernel's ABI. */
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif
#ifndef UBLK_CMD_GET_FEATURES
#define UBLK_CMD_GET_FEATURES 0x13
#endif
#ifndef UBLK_CMD_DEL_DEV_ASYNC
#define UBLK_CMD_DEL_DEV_ASYNC 0x14
#endif
#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_ADD_DEV _IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV _IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV _IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV _IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS _IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_GET_FEATURES
#define UBLK_U_CMD_GET_FEATURES _IOR('u', UBLK_CMD_GET_FEATURES, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_DEL_DEV_ASYNC
#define UBLK_U_CMD_DEL_DEV_ASYNC _IOR('u', UBLK_CMD_DEL_DEV_ASYNC, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ _IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ _IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif

/* Per-queue sizes: depth tags of UBLK_IO_BYTES each, pinned at add time. */
#define VD_UBLK_MAX_QUEUES 4
#define VD_UBLK_QUEUE_DEPTH 32
#define VD_UBLK_IO_BYTES (256u << 10)

struct ublk_dev;
struct ublk_frontend;
struct ublk_queue;

/* /dev/ublk-control and the ring its commands go through, used under the
 * frontend's lock; queue threads only read encoded, fixed once open. */
struct ublk_ctrl {
  int fd;
  struct io_uring ring;
  bool ring_ok;
  bool encoded;            /* use ioctl-encoded opcodes */
  uint64_t features;       /* GET_FEATURES' answer; 0 when it has none */
};

/* One tag: its engine request, staging slice and result. */
struct ublk_tag {
  struct vd_io io;
  struct ublk_queue *q;
  struct ublk_tag *next_done; /* lock-free completion list */
  uint64_t t0_ns;
  int result;
  uint16_t tag;
  bool live;               /* a command for this tag is with the kernel */
};

/* One hardware queue: thread, ring, descriptors, tags. */
struct ublk_queue {
  struct ublk_dev *dev;
  unsigned id;
  struct io_uring ring;
  bool ring_ok;
  int efd;
  pthread_t thread;
  bool started;
  const struct ublksrv_io_desc *iods;
  size_t iods_len;
  char *bufs;              /* pinned, depth * VD_UBLK_IO_BYTES */
  struct ublk_tag *tags;
  _Atomic(struct ublk_tag *) done_head;
  atomic_bool stopping;
  unsigned in_engine;      /* queue thread only */
  /* start-up handshake with the adding thread */
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool ready;
  int ready_err;
};

/* One ublk device serving one volume. */
struct ublk_dev {
  struct ublk_frontend *fe;
  struct vd_engine *eng;
  struct vd_volume *v;
  int id;
  int cdev_fd;
  unsigned nq;
  bool added, started;
  struct ublk_queue q[VD_UBLK_MAX_QUEUES];
  struct ublk_dev *next;
};

/* The frontend: its control channel and every device it serves. */
struct ublk_frontend {
  pthread_mutex_t lock;    /* ctrl and devs */
  struct ublk_ctrl ctrl;
  struct ublk_dev *devs;
  atomic_uint queues_staged; /* queues holding pinned staging; read unlocked */
};

/* ctrl.c: one wrapper per control command, each run synchronously and
 * returning the kernel's result (-errno); callers hold the frontend lock. */
int ublk_ctrl_open(struct ublk_ctrl *c, char *err, size_t errlen);
void ublk_ctrl_close(struct ublk_ctrl *c);
int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_set_params(struct ublk_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ublk_ctrl_start_dev(struct ublk_ctrl *c, uint32_t dev_id, pid_t pid);
int ublk_ctrl_stop_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ublk_ctrl_del_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ublk_ctrl_del_dev_async(struct ublk_ctrl *c, uint32_t dev_id);
/* Give a live device a new size in 512-byte sectors (UBLK_F_UPDATE_SIZE). */
int ublk_ctrl_update_size(struct ublk_ctrl *c, uint32_t dev_id, uint64_t sectors);

/* queue.c: the data plane of one queue. */
int ublk_queue_setup(struct ublk_dev *u, unsigned id, char *err, size_t errlen);
void ublk_queue_join(struct ublk_queue *q, unsigned wait_s);
void ublk_queue_free(struct ublk_queue *q);

/* Put a 32-byte command payload into an SQE128's command area. */
static inline void ublk_sqe_set_cmd(struct io_uring_sqe *sqe, const void *cmd, size_t len)
{
  memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), cmd, len);
}

#endif
