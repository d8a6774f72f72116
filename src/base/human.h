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

#define KILN_HUMAN_DURATION_MAX 32

/* Whole seconds as Go's time.Duration prints them: "1h30m0s", "20s", "0s". */
void kiln_human_duration(int64_t seconds, char out[KILN_HUMAN_DURATION_MAX]);

/*
 * Parses a duration as Go writes them, in whole seconds: "90m", "1h30m",
 * "20s", "2h", plus "d" for days ("30d"). Returns 0, or -1 for anything else
 * (no unit, a fraction, a negative or overflowing value).
 */
int kiln_parse_duration(const char *s, int64_t *ret_seconds);
