/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-onbuild.c - ONBUILD: recorded in config.OnBuild, and run at the
 * start of a stage whose base is an image with triggers or an earlier stage
 * of the file with ONBUILD lines (docs/internals/convert.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "convert-private.h"
#include "dockerfile/parser.h"

#include "base/banned.h"

void conv_onbuild_record(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    json_t *cfg = conv_config(s);
    json_t *ob = json_object_get(cfg, "OnBuild");
    if (!json_is_array(ob)) {
        ob = json_array();
        json_object_set_new(cfg, "OnBuild", ob);
    }
    json_array_append_new(ob, json_string(ins->onbuild.expression));
}

/* One trigger's text through the parser and the instructions layer. */
static int parse_trigger(struct conv_stage *s, const char *text, struct kiln_error **err)
{
    unsigned line = s->st->start_line;
    size_t len = strlen(text);
    if (len > KILN_CONVERT_TRIGGER_MAX)
        return kiln_error_set_line(err, KILN_E_LIMIT, line,
                                   "an ONBUILD trigger of the base image is %zu bytes, more "
                                   "than %d",
                                   len, KILN_CONVERT_TRIGGER_MAX);
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    int r = kiln_df_parse(text, len, &ast, err);
    if (r < 0)
        return kiln_error_wrap(err, kiln_error_at_line(err, r, line), "ONBUILD trigger '%s'", text);
    if (ast->n_nodes != 1)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "onbuild trigger should be a single expression: '%s'", text);
    struct kiln_df_node *node = ast->nodes[0];
    node->start_line = s->st->start_line;
    node->end_line = s->st->end_line;
    struct kiln_df_instruction *ins = NULL;
    r = kiln_df_instruction_parse(node, ast->escape, &ins, err);
    if (r < 0)
        return kiln_error_wrap(err, kiln_error_at_line(err, r, line), "ONBUILD trigger '%s'", text);
    KILN_GROW(s->triggers, s->alloc_triggers, s->n_triggers + 1);
    s->triggers[s->n_triggers++] = ins;
    return 0;
}

int conv_onbuild_init(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    json_t *cfg = conv_config(s);
    json_t *ob = json_object_get(cfg, "OnBuild");
    size_t n = json_array_size(ob);
    if (n > KILN_CONVERT_ONBUILD_MAX)
        return kiln_error_set_line(err, KILN_E_LIMIT, s->st->start_line,
                                   "the base image has %zu ONBUILD triggers, more than %d", n,
                                   KILN_CONVERT_ONBUILD_MAX);
    int r = 0;
    size_t i;
    json_t *t;
    json_array_foreach (ob, i, t) {
        if (r >= 0 && json_is_string(t))
            r = parse_trigger(s, json_string_value(t), err);
    }
    if (s->base_stage >= 0) {
        const struct kiln_df_stage *b = c->stages[s->base_stage].st;
        for (size_t k = 0; r >= 0 && k < b->n_instructions; k++)
            if (b->instructions[k].kind == KILN_DF_ONBUILD)
                r = parse_trigger(s, b->instructions[k].onbuild.expression, err);
    }
    json_object_del(cfg, "OnBuild");
    s->total += (unsigned)s->n_triggers;
    return r;
}
