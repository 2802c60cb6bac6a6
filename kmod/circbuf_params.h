/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's parameters (circbuf_params.c). Those that can change at run
 * time (0644) are read once with READ_ONCE() where they are used.
 */
#ifndef _CIRCBUF_PARAMS_H
#define _CIRCBUF_PARAMS_H

#include <linux/init.h>
#include <linux/types.h>

struct seq_file;

extern unsigned int circbuf_buffer_size;
extern unsigned int circbuf_devices;
extern unsigned long circbuf_max_total_size;
extern ushort circbuf_mode;
extern bool circbuf_use_dma;
extern unsigned int circbuf_dma_threshold;
extern bool circbuf_dma_any_channel;
extern unsigned int circbuf_dma_timeout_ms;
extern char *circbuf_locking;
extern unsigned int circbuf_segment_size;

/* At load: 0, or -EINVAL with a message naming the parameter. */
int __init circbuf_check_params(void);
void circbuf_params_show(struct seq_file *m);

#endif /* _CIRCBUF_PARAMS_H */
