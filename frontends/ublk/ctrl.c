/* ctrl.c: ublk control commands.  They go to /dev/ublk-control as
 * io_uring URING_CMDs (SQE128), one at a time, each through a small
 * wrapper named for its command as in the kernel's kublk. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ublk-internal.h"
#include "util.h"

#define CTRL_PATH "/dev/ublk-control"

/* One legacy and one ioctl-encoded opcode per control command. */
struct ctrl_op {
  unsigned legacy, encoded;
  const char *name;
};

static const struct ctrl_op OP_ADD = { UBLK_CMD_ADD_DEV, UBLK_U_CMD_ADD_DEV, "ADD_DEV" };
static const struct ctrl_op OP_SET_PARAMS = { UBLK_CMD_SET_PARAMS, UBLK_U_CMD_SET_PARAMS, "SET_PARAMS" };
static const struct ctrl_op OP_START = { UBLK_CMD_START_DEV, UBLK_U_CMD_START_DEV, "START_DEV" };
static const struct ctrl_op OP_STOP = { UBLK_CMD_STOP_DEV, UBLK_U_CMD_STOP_DEV, "STOP_DEV" };
static const struct ctrl_op OP_DEL = { UBLK_CMD_DEL_DEV, UBLK_U_CMD_DEL_DEV, "DEL_DEV" };
static const struct ctrl_op OP_DEL_ASYNC = { 0, UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC" };
static const struct ctrl_op OP_FEATURES = { 0, UBLK_U_CMD_GET_FEATURES, "GET_FEATURES" };
static const struct ctrl_op OP_UPDATE_SIZE = { 0, UBLK_U_CMD_UPDATE_SIZE, "UPDATE_SIZE" };

/* Run one control command synchronously; returns the CQE result. */
static int ctrl_cmd(struct ublk_ctrl *ctl, const struct ctrl_op *op, uint32_t dev_id,
                    uint64_t data0, void *buf, uint16_t len)
{
  struct ublksrv_ctrl_cmd c = { .dev_id = dev_id, .queue_id = (uint16_t)-1,
                                .len = len, .addr = (uintptr_t)buf };
  struct io_uring_sqe *sqe;
  struct io_uring_cqe *cqe;
  int rc;

  if (!ctl->encoded && !op->legacy)
    return -EOPNOTSUPP;
  sqe = io_uring_get_sqe(&ctl->ring);
  if (!sqe)
    return -EBUSY;
  memset(sqe, 0, 2 * sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = ctl->fd;
  sqe->cmd_op = ctl->encoded || !op->legacy ? op->encoded : op->legacy;
  c.data[0] = data0;
  ublk_sqe_set_cmd(sqe, &c, sizeof c);
  rc = io_uring_submit(&ctl->ring);
  if (rc < 0)
    return rc;
  do
    rc = io_uring_wait_cqe(&ctl->ring, &cqe);
  while (rc == -EINTR);
  if (rc < 0)
    return rc;
  rc = cqe->res;
  io_uring_cqe_seen(&ctl->ring, cqe);
  vd_debug("ublk: %s dev %u: %d", op->name, dev_id, rc);
  return rc;
}

/* Ask which features the driver has (ioctl-encoded only). */
static int ctrl_get_features(struct ublk_ctrl *ctl, uint64_t *features)
{
  return ctrl_cmd(ctl, &OP_FEATURES, 0, 0, features, sizeof *features);
}

/* Add a device; the kernel writes the id it chose back into info. */
int ublk_ctrl_add_dev(struct ublk_ctrl *ctl, struct ublksrv_ctrl_dev_info *info)
{
  return ctrl_cmd(ctl, &OP_ADD, info->dev_id, 0, info, sizeof *info);
}

/* Set a device's block parameters, before it starts. */
int ublk_ctrl_set_params(struct ublk_ctrl *ctl, uint32_t dev_id, struct ublk_params *p)
{
  return ctrl_cmd(ctl, &OP_SET_PARAMS, dev_id, 0, p, sizeof *p);
}

/* Start a device whose queues have fetched: /dev/ublkbN appears. */
int ublk_ctrl_start_dev(struct ublk_ctrl *ctl, uint32_t dev_id, pid_t pid)
{
  return ctrl_cmd(ctl, &OP_START, dev_id, (uint64_t)pid, NULL, 0);
}

/* Stop a device: the disk goes and every fetched tag is aborted. */
int ublk_ctrl_stop_dev(struct ublk_ctrl *ctl, uint32_t dev_id)
{
  return ctrl_cmd(ctl, &OP_STOP, dev_id, 0, NULL, 0);
}

/* Delete a device, waiting until nothing holds it. */
int ublk_ctrl_del_dev(struct ublk_ctrl *ctl, uint32_t dev_id)
{
  return ctrl_cmd(ctl, &OP_DEL, dev_id, 0, NULL, 0);
}

/* Delete a device without waiting; -EOPNOTSUPP on legacy opcodes. */
int ublk_ctrl_del_dev_async(struct ublk_ctrl *ctl, uint32_t dev_id)
{
  return ctrl_cmd(ctl, &OP_DEL_ASYNC, dev_id, 0, NULL, 0);
}

/* Give a live device a new size; -EOPNOTSUPP on legacy opcodes. */
int ublk_ctrl_update_size(struct ublk_ctrl *ctl, uint32_t dev_id, uint64_t sectors)
{
  return ctrl_cmd(ctl, &OP_UPDATE_SIZE, dev_id, sectors, NULL, 0);
}

/* Explain why the control device cannot be used, with the fix. */
static void ctrl_why(int e, char *err, size_t errlen)
{
  if (e == ENOENT || e == ENODEV || e == ENXIO)
    snprintf(err, errlen, "ublk is not available: %s does not exist (the ublk_drv "
             "kernel module is not loaded: run 'modprobe ublk_drv'; use frontend=nbd "
             "meanwhile)", CTRL_PATH);
  else if (e == EACCES || e == EPERM)
    snprintf(err, errlen, "ublk is not available: no permission to open %s "
             "(vramd needs root or CAP_SYS_ADMIN for ublk; use frontend=nbd "
             "otherwise)", CTRL_PATH);
  else
    snprintf(err, errlen, "ublk is not available: cannot use %s: %s", CTRL_PATH,
             strerror(e));
}

/* Open the control device and pick the opcodes, once. */
int ublk_ctrl_open(struct ublk_ctrl *ctl, char *err, size_t errlen)
{
  uint64_t feat = 0;
  int rc;

  if (ctl->ring_ok)
    return 0;
  ctl->fd = open(CTRL_PATH, O_RDWR | O_CLOEXEC);
  if (ctl->fd < 0) {
    ctrl_why(errno, err, errlen);
    return -ENODEV;
  }
  rc = io_uring_queue_init(4, &ctl->ring, IORING_SETUP_SQE128);
  if (rc) {
    snprintf(err, errlen, "ublk is not available: io_uring with 128-byte SQEs "
             "failed (%s); ublk needs Linux 6.0 or later", strerror(-rc));
    goto out_close;
  }
  ctl->ring_ok = true;
  /* GET_FEATURES exists only ioctl-encoded; an old kernel refuses it and
   * then gets the legacy opcodes. */
  ctl->encoded = true;
  rc = ctrl_get_features(ctl, &feat);
  if (rc == 0) {
    ctl->encoded = (feat & UBLK_F_CMD_IOCTL_ENCODE) != 0;
    ctl->features = feat;
    vd_info("ublk: kernel features 0x%llx, %s opcodes", (unsigned long long)feat,
            ctl->encoded ? "ioctl-encoded" : "legacy");
  } else {
    ctl->encoded = false;
    vd_info("ublk: GET_FEATURES unsupported (%s): legacy opcodes", strerror(-rc));
  }
  return 0;

out_close:
  close(ctl->fd);
  ctl->fd = -1;
  return -ENODEV;
}

/* Close the control ring and device. */
void ublk_ctrl_close(struct ublk_ctrl *ctl)
{
  if (ctl->ring_ok)
    io_uring_queue_exit(&ctl->ring);
  ctl->ring_ok = false;
  if (ctl->fd >= 0)
    close(ctl->fd);
  ctl->fd = -1;
}
