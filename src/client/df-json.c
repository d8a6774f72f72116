/* SPDX-License-Identifier: Apache-2.0 */
#include "df-json.h"

int kiln_client_df_json(const struct kiln_df_ast *ast, struct kiln_buf *out,
                        struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID, "--json is not available yet");
}
