/* SPDX-License-Identifier: Apache-2.0 */
/*
 * data-dir.h - where the local driver keeps its store.
 */
#pragma once

/* $KILN_DATA_DIR, else /var/lib/kiln for root, else $XDG_DATA_HOME/kiln (~/.local/share/kiln).
 * Caller frees. */
char *kiln_data_dir(void);
