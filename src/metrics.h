/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * metrics.h: the Prometheus text of /metrics, formatted from the counters
 * every worker keeps in the shared region.  Any process.
 */

#ifndef WSCHATD_METRICS_H
#define WSCHATD_METRICS_H

#include <stddef.h>

struct shm_region;

char		*metrics_format(const struct shm_region *, size_t *);

#endif /* WSCHATD_METRICS_H */
