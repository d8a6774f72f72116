/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-stage.c - FROM: a stage's base (an earlier stage, scratch or an
 * image resolved once per ref and platform), the config it starts from, and
 * the progress names of its steps (docs/internals/convert.md).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "convert-private.h"

#include "base/banned.h"

void conv_platform_copy(struct kiln_oci_platform *dst, const struct kiln_oci_platform *src)
{
    *dst = (struct kiln_oci_platform){
            .architecture = src->architecture ? kiln_xstrdup(src->architecture) : NULL,
            .os = src->os ? kiln_xstrdup(src->os) : NULL,
            .os_version = src->os_version ? kiln_xstrdup(src->os_version) : NULL,
            .variant = src->variant ? kiln_xstrdup(src->variant) : NULL,
            .os_features = KILN_STRV_INIT,
    };
    for (size_t i = 0; i < src->os_features.n; i++)
        kiln_strv_push(&dst->os_features, src->os_features.v[i]);
}

/* Go's strconv.Atoi: optional sign, decimal digits, no overflow. */
static bool go_atoi(const char *s, long *ret)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    char *end;
    long n = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *ret = n;
    return true;
}

long conv_find_stage(const struct conv *c, const char *name)
{
    long n;
    if (go_atoi(name, &n))
        return n >= 0 && (size_t)n < c->n_stages ? n : LONG_MIN;
    for (size_t i = 0; i < c->n_stages; i++)
        if (*c->stages[i].st->from.name && strcasecmp(c->stages[i].st->from.name, name) == 0)
            return (long)i;
    return -1;
}

/* resolve(), once per ref and platform; the result is borrowed from the cache. */
static int resolve(struct conv *c, const char *ref, const struct kiln_oci_platform *p,
                   unsigned line, const struct conv_image **ret, struct kiln_error **err)
{
    _cleanup_free_ char *pf = kiln_oci_platform_format_all(p);
    _cleanup_free_ char *key = kiln_xasprintf("%s %s", ref, pf);
    for (size_t i = 0; i < c->n_images; i++)
        if (strcmp(c->images[i].key, key) == 0) {
            *ret = &c->images[i];
            return 0;
        }
    char *pinned = NULL;
    json_t *cfg = NULL;
    int r = c->o->resolve(c->o->resolve_userdata, ref, p, &pinned, &cfg, err);
    if (r < 0)
        return kiln_error_at_line(err, r, line);
    if (!json_is_object(cfg)) {
        free(pinned);
        json_decref(cfg);
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "the config of image '%s' is not a JSON object", ref);
    }
    conv_image_normalize(cfg);
    KILN_GROW(c->images, c->alloc_images, c->n_images + 1);
    struct conv_image *img = &c->images[c->n_images++];
    *img = (struct conv_image){.key = TAKE_PTR(key), .pinned = pinned, .config = cfg};
    *ret = img;
    return 0;
}

/* An image with no layers (BuildKit's isScratch): no diff_ids, every history entry empty. */
static bool image_is_scratch(json_t *cfg)
{
    if (json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")))
        return false;
    size_t i;
    json_t *h;
    json_array_foreach (json_object_get(cfg, "history"), i, h) {
        if (!json_is_true(json_object_get(h, "empty_layer")))
            return false;
    }
    return true;
}

int conv_image_vertex(struct conv *c, const char *ref, const struct kiln_oci_platform *p,
                      unsigned line, struct kiln_vertex **ret, struct kiln_error **err)
{
    const struct conv_image *img;
    int r = resolve(c, ref, p, line, &img, err);
    if (r < 0)
        return r;
    *ret = NULL;
    if (image_is_scratch(img->config))
        return 0;
    /* BuildKit names an image used only by COPY --from without a step prefix. */
    _cleanup_free_ char *name = kiln_xasprintf("FROM %s", img->pinned);
    struct kiln_vertex *v = kiln_graph_add(c->g, KILN_VERTEX_IMAGE, NULL, name);
    v->image.ref = kiln_xstrdup(img->pinned);
    conv_platform_copy(&v->image.platform, p);
    v->no_cache = c->o->no_cache;
    *ret = v;
    return 0;
}

/* BuildKit's formatTargetPlatform over the TARGET* args in the env: "->arm64" or "". */
static char *target_suffix(const struct conv_stage *s, const struct kiln_oci_platform *base)
{
    const char *tp = kiln_shell_env_get(&s->env, "TARGETPLATFORM");
    struct kiln_oci_platform p = {0};
    if (!tp || kiln_oci_platform_parse(tp, &p, NULL) < 0) {
        kiln_oci_platform_release(&p);
        const char *os = kiln_shell_env_get(&s->env, "TARGETOS");
        const char *arch = kiln_shell_env_get(&s->env, "TARGETARCH");
        const char *variant = kiln_shell_env_get(&s->env, "TARGETVARIANT");
        if (!os && !arch && !variant)
            return kiln_xstrdup("");
        p.os = kiln_xstrdup(os && *os ? os : base->os ? base->os : "");
        p.architecture = kiln_xstrdup(arch && *arch        ? arch
                                      : base->architecture ? base->architecture
                                                           : "");
        p.variant = variant && *variant ? kiln_xstrdup(variant) : NULL;
        p.os_features = (struct kiln_strv)KILN_STRV_INIT;
    }
    kiln_oci_platform_normalize(&p);
    char *out;
    bool same_os = strcmp(p.os ? p.os : "", base->os ? base->os : "") == 0;
    bool same_arch = strcmp(p.architecture ? p.architecture : "",
                            base->architecture ? base->architecture : "") == 0;
    if (same_os && !same_arch)
        out = kiln_xasprintf("->%s%s%s", p.architecture ? p.architecture : "", p.variant ? "/" : "",
                             p.variant ? p.variant : "");
    else if (!same_os) {
        _cleanup_free_ char *all = kiln_oci_platform_format_all(&p);
        out = kiln_xasprintf("->%s", all);
    } else
        out = kiln_xstrdup("");
    kiln_oci_platform_release(&p);
    return out;
}

static char *step_name(struct conv *c, struct conv_stage *s, const char *text, bool env)
{
    if (s->total == 0)
        return kiln_xstrdup(text);
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_addch(&b, '[');
    if (c->o->multi_platform) {
        _cleanup_free_ char *pf = kiln_oci_platform_format_all(&s->platform);
        _cleanup_free_ char *suffix = env ? target_suffix(s, &s->platform) : kiln_xstrdup("");
        kiln_buf_addf(&b, "%s%s ", pf, suffix);
    }
    if (*s->name)
        kiln_buf_addf(&b, "%s ", s->name);
    int width = 1;
    for (unsigned t = s->total; t >= 10; t /= 10)
        width++;
    s->step++;
    kiln_buf_addf(&b, "%*u/%u] %s%s", width, s->step, s->total, s->onbuild ? "ONBUILD " : "", text);
    return kiln_buf_detach(&b, NULL);
}

char *conv_step_name(struct conv *c, struct conv_stage *s, const char *text)
{
    return step_name(c, s, text, true);
}

char *conv_step_text(const struct conv *c, const struct conv_stage *s, const char *original,
                     bool raw)
{
    struct kiln_shell_options o = c->shopt;
    o.raw_quotes = raw;
    o.skip_unset_env = raw;
    char *text = NULL;
    if (kiln_shell_process_word(original, &s->env, &o, &text, NULL, NULL) < 0)
        text = kiln_xstrdup(original);
    for (char *p = text; *p && *p != ' '; p++)
        *p = (char)toupper((unsigned char)*p);
    return text;
}

struct kiln_vertex *conv_add_vertex(struct conv *c, struct conv_stage *s,
                                    enum kiln_vertex_kind kind, const char *name)
{
    struct kiln_vertex *v = kiln_graph_add(c->g, kind, s->state, name);
    v->no_cache = c->o->no_cache;
    s->state = v;
    return v;
}

static unsigned count_steps(const struct kiln_df_stage *st)
{
    unsigned n = 0;
    for (size_t i = 0; i < st->n_instructions; i++) {
        enum kiln_df_kind k = st->instructions[i].kind;
        n += k == KILN_DF_ADD || k == KILN_DF_COPY || k == KILN_DF_RUN || k == KILN_DF_WORKDIR;
    }
    return n;
}

/* BuildKit's emptyImage for scratch: WorkingDir "/" and the default PATH. */
static json_t *scratch_image(const struct kiln_oci_platform *p)
{
    json_t *img = json_pack("{s:s, s:s, s:{s:s}, s:[]}", "architecture",
                            p->architecture ? p->architecture : "", "os", p->os ? p->os : "",
                            "config", "WorkingDir", "/", "history");
    if (p->variant)
        json_object_set_new(img, "variant", json_string(p->variant));
    if (p->os_version)
        json_object_set_new(img, "os.version", json_string(p->os_version));
    return img;
}

static int from_stage(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    int r = conv_stage_need(c, (size_t)s->base_stage, s, s->st->start_line, err);
    if (r < 0)
        return r;
    const struct conv_stage *b = &c->stages[s->base_stage];
    s->state = b->state;
    kiln_oci_platform_release(&s->platform);
    conv_platform_copy(&s->platform, &b->platform);
    s->image = json_deep_copy(b->image);
    json_object_del(conv_config(s), "OnBuild");
    for (size_t i = 0; i < b->env.names.n; i++)
        conv_env_put(&s->env, b->env.names.v[i], b->env.values.v[i]);
    conv_args_copy(s, b);
    return 0;
}

static int from_image(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    unsigned line = s->st->start_line;
    const struct conv_image *img;
    int r = resolve(c, s->base_name, &s->platform, line, &img, err);
    if (r < 0)
        return r;
    s->image = json_deep_copy(img->config);
    json_object_del(s->image, "created");
    json_object_del(s->image, "rootfs");
    if (!json_is_array(json_object_get(s->image, "history")))
        json_object_set_new(s->image, "history", json_array());
    if (image_is_scratch(img->config))
        return 0;
    _cleanup_free_ char *text = kiln_xasprintf("FROM %s", img->pinned);
    _cleanup_free_ char *name = step_name(c, s, text, false);
    struct kiln_vertex *v = conv_add_vertex(c, s, KILN_VERTEX_IMAGE, name);
    v->image.ref = kiln_xstrdup(img->pinned);
    conv_platform_copy(&v->image.platform, &s->platform);
    return 0;
}

int conv_stage_from(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    int r;
    s->total = count_steps(s->st);
    if (s->base_stage >= 0) {
        r = from_stage(c, s, err);
    } else if (strcmp(s->base_name, "scratch") == 0) {
        /* BuildKit builds scratch for the target platform, whatever --platform says. */
        kiln_oci_platform_release(&s->platform);
        conv_platform_copy(&s->platform, &c->target);
        s->image = scratch_image(&s->platform);
        r = 0;
    } else {
        s->total++;
        r = from_image(c, s, err);
    }
    if (r >= 0)
        r = conv_env_from_config(s, s->st->start_line, err);
    if (r >= 0)
        r = conv_onbuild_init(c, s, err);
    return r;
}
