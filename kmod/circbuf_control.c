// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/circbuf-control: adds and removes rings at run time, as
 * /dev/loop-control does loop devices. Root only: the node is 0600 and
 * its two ioctls need CAP_SYS_ADMIN, as CIRCBUF_SET_CAPACITY does; any
 * other request is ENOTTY, with or without it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "circbuf.h"
#include "circbuf_dev.h"
#include "circbuf_params.h"

static struct miscdevice circbuf_control;

/* CIRCBUF_CTL_ADD: check the request, then create the ring. */
static long circbuf_control_add(const struct circbuf_ctl_add __user *argp)
{
	struct device *dev = circbuf_control.this_device;
	struct circbuf_ctl_add req;
	u64 cap;
	int id = -1;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.reserved[0] || req.reserved[1] ||
	    (req.flags & ~CIRCBUF_CTL_NUMBER) ||
	    (!(req.flags & CIRCBUF_CTL_NUMBER) && req.number)) {
		dev_info_ratelimited(dev, "add: unknown flags %#x, or a number without CIRCBUF_CTL_NUMBER, or reserved fields set\n",
				     req.flags);
		return -EINVAL;
	}
	cap = req.capacity ? req.capacity : circbuf_buffer_size;
	if (cap > CIRCBUF_MAX_SIZE) {
		dev_info_ratelimited(dev, "add: capacity %llu is out of range: it must be 1..%u bytes, or 0 for buffer_size\n",
				     cap, CIRCBUF_MAX_SIZE);
		return -EINVAL;
	}
	if (req.flags & CIRCBUF_CTL_NUMBER) {
		if (req.number >= CIRCBUF_MAX_DEVICES) {
			dev_info_ratelimited(dev, "add: ring number %u is out of range: it must be 0..%u\n",
					     req.number, CIRCBUF_MAX_DEVICES - 1);
			return -EINVAL;
		}
		id = req.number;
	}
	/* The rings' DMA memory belongs to the platform device. */
	return circbuf_add_ring(circbuf_control.parent, id, cap);
}

static long circbuf_control_ioctl(struct file *file, unsigned int cmd,
				  unsigned long arg)
{
	/* Not ours is ENOTTY for everyone; ours need the capability. */
	if (cmd != CIRCBUF_CTL_ADD && cmd != CIRCBUF_CTL_REMOVE)
		return -ENOTTY;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cmd == CIRCBUF_CTL_ADD)
		return circbuf_control_add((const void __user *)arg);
	/* The number itself, as LOOP_CTL_REMOVE's. */
	return circbuf_remove_ring(arg > UINT_MAX ? UINT_MAX : arg);
}

static const struct file_operations circbuf_control_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= circbuf_control_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice circbuf_control = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= CIRCBUF_CONTROL_NAME,
	.fops	= &circbuf_control_fops,
	.mode	= 0600,
};

int circbuf_control_register(struct device *parent)
{
	int err;

	circbuf_control.parent = parent;
	err = misc_register(&circbuf_control);
	if (err)
		dev_err(parent, "cannot register /dev/%s: %d\n",
			CIRCBUF_CONTROL_NAME, err);
	return err;
}

void circbuf_control_deregister(void)
{
	misc_deregister(&circbuf_control);
}
