/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-prefetch.h - reading a kept context into the page cache while its
 * new index is checked and its changes upload, so the COPY that follows
 * does not wait on the disk (docs/internals/context-sync.md).
 */
#pragma once

/* Prefetches run at once at most; past it a prefetch is skipped. */
#define KILND_PREFETCH_RUNNING_MAX 2
/* Bytes read ahead per prefetch at most. */
#define KILND_PREFETCH_BYTES_MAX (2ull << 30)

/*
 * Starts reading, in the background, the files of the slot of store_dir last
 * used with `hint` (context-slot.h), if there is one. Returns at once; never
 * fails (a prefetch not made only leaves the build to read the disk itself).
 */
void kilnd_context_prefetch(const char *store_dir, const char *hint);
