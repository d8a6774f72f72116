/* SPDX-License-Identifier: Apache-2.0 */
/*
 * human.h - byte counts as people read them, in go-units' HumanSize format
 * (decimal units, four significant digits: "2.31MB"), as buildx prints them.
 */
#pragma once

#include <stdint.h>

#define KILN_HUMAN_SIZE_MAX 32

void kiln_human_size(uint64_t n, char out[KILN_HUMAN_SIZE_MAX]);
