/* SPDX-License-Identifier: Apache-2.0 */
/*
 * human.h - byte counts as people read them, in go-units' HumanSize format
 * (decimal units, four significant digits: "2.31MB"), as buildx prints them.
 */
#pragma once

#include <stdint.h>

#define KILN_HUMAN_SIZE_MAX 32

void kiln_human_size(uint64_t n, char out[KILN_HUMAN_SIZE_MAX]);

/*
 * Parses a size as buildx takes them: a number with an optional unit (B,
 * kB/K, MB/M, GB/G, TB/T decimal; KiB, MiB, GiB binary; any case). Returns 0,
 * or -1 for anything else.
 */
int kiln_parse_size(const char *s, uint64_t *ret);
