/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve.h - `kilnd serve` (docs/internals/server.md).
 */
#pragma once

int kilnd_serve_main(int argc, char **argv);
