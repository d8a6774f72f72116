/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builders.c - the builders table of kilnd.db.
 */
#include "builders.h"

#include <string.h>

#include "accounts.h"
#include "base/alloc.h"
#include "db.h"
#include "oci/platform.h"

#include "base/banned.h"

#define COLUMNS "account, name, timeout_s, platforms, concurrency, cache_max, allow_network_host"

void kilnd_builder_init(struct kilnd_builder *b)
{
    *b = (struct kilnd_builder){
            .timeout_s = KILND_BUILDER_TIMEOUT_DEFAULT,
            .platforms = KILN_STRV_INIT,
            .concurrency = KILND_BUILDER_CONCURRENCY,
            .cache_max = KILND_BUILDER_CACHE_MAX,
    };
    (void)kilnd_builder_platforms_parse(KILND_BUILDER_PLATFORMS, &b->platforms, NULL);
}

void kilnd_builder_release(struct kilnd_builder *b)
{
    free(b->account);
    free(b->name);
    kiln_strv_release(&b->platforms);
    b->account = b->name = NULL;
}

void kilnd_builder_free(struct kilnd_builder *b)
{
    if (!b)
        return;
    kilnd_builder_release(b);
    free(b);
}

void kilnd_builder_list_free(struct kilnd_builder *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kilnd_builder_release(&list[i]);
    free(list);
}

static bool name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KILND_BUILDER_NAME_MAX || strchr("._-", name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              strchr("._-", name[i])))
            return false;
    return true;
}

int kilnd_builder_ref_parse(const char *ref, char **ret_account, char **ret_name,
                            struct kiln_error **err)
{
    const char *slash = strchr(ref, '/');
    if (!slash)
        return kiln_error_set(err, KILN_E_INVALID, "invalid builder '%s': write it ACCOUNT/NAME",
                              ref);
    _cleanup_free_ char *account = kiln_xstrndup(ref, (size_t)(slash - ref));
    if (!kilnd_account_name_valid(account))
        return kiln_error_set(err, KILN_E_INVALID, "invalid account '%s' in builder '%s'", account,
                              ref);
    if (!name_valid(slash + 1))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid builder name '%s': use 1 to %d lower-case letters, "
                              "digits, '.', '_' and '-', starting with a letter or digit",
                              slash + 1, KILND_BUILDER_NAME_MAX);
    *ret_account = TAKE_PTR(account);
    *ret_name = kiln_xstrdup(slash + 1);
    return 0;
}

static int platform_normalised(const char *spec, char **ret, struct kiln_error **err)
{
    if (!strchr(spec, '/'))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid platform '%s': write it OS/ARCH[/VARIANT] (linux/amd64)",
                              spec);
    struct kiln_oci_platform p = {0};
    int r = kiln_oci_platform_parse(spec, &p, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "invalid platform '%s'", spec);
    kiln_oci_platform_normalize(&p);
    *ret = kiln_oci_platform_format(&p);
    kiln_oci_platform_release(&p);
    return 0;
}

int kilnd_builder_platforms_parse(const char *list, struct kiln_strv *ret, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv v = KILN_STRV_INIT;
    for (const char *p = list, *next; p; p = next) {
        size_t n = strcspn(p, ",");
        _cleanup_free_ char *spec = kiln_xstrndup(p, n);
        next = p[n] ? p + n + 1 : NULL;
        char *norm = NULL;
        int r = platform_normalised(spec, &norm, err);
        if (r < 0)
            return r;
        if (kiln_strv_find(&v, norm) >= 0) {
            free(norm);
            continue;
        }
        if (v.n == KILND_BUILDER_PLATFORMS_MAX) {
            free(norm);
            return kiln_error_set(err, KILN_E_LIMIT, "more than %d platforms",
                                  KILND_BUILDER_PLATFORMS_MAX);
        }
        kiln_strv_take(&v, norm);
    }
    kiln_strv_release(ret);
    *ret = v;
    v = (struct kiln_strv)KILN_STRV_INIT;
    return 0;
}

static char *platforms_join(const struct kiln_strv *v)
{
    size_t len = 1;
    for (size_t i = 0; i < v->n; i++)
        len += strlen(v->v[i]) + 1;
    char *s = kiln_xcalloc(1, len), *at = s;
    for (size_t i = 0; i < v->n; i++)
        at += snprintf(at, len - (size_t)(at - s), "%s%s", i ? "," : "", v->v[i]);
    return s;
}

static int check(const struct kilnd_builder *b, struct kiln_error **err)
{
    _cleanup_free_ char *account = NULL, *name = NULL;
    _cleanup_free_ char *ref = kiln_xasprintf("%s/%s", b->account, b->name);
    int r = kilnd_builder_ref_parse(ref, &account, &name, err);
    if (r < 0)
        return r;
    if (b->timeout_s <= 0 || b->timeout_s > KILND_BUILDER_TIMEOUT_MAX)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid timeout %lld s: give 1 s to %d days (e.g. 90m)",
                              (long long)b->timeout_s, KILND_BUILDER_TIMEOUT_MAX / 86400);
    if (b->concurrency <= 0 || b->concurrency > KILND_BUILDER_CONCURRENCY_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "invalid concurrency %d: give 1 to %d",
                              b->concurrency, KILND_BUILDER_CONCURRENCY_MAX);
    if (b->cache_max == 0 || b->cache_max > INT64_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "invalid cache size %llu bytes",
                              (unsigned long long)b->cache_max);
    if (b->platforms.n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "builder '%s' has no platforms", ref);
    return 0;
}

int kilnd_builder_create(struct kilnd_db *db, const struct kilnd_builder *b,
                         struct kiln_error **err)
{
    int r = check(b, err);
    if (r < 0)
        return r;
    enum kilnd_account_kind kind;
    r = kilnd_account_kind(db, b->account, &kind, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *platforms = platforms_join(&b->platforms);
    r = kilnd_db_run(
            db, "INSERT INTO builders (" COLUMNS ", created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            "ttitiiii", err, b->account, b->name, b->timeout_s, platforms, (int64_t)b->concurrency,
            (int64_t)b->cache_max, (int64_t)b->allow_network_host, kilnd_db_now());
    if (r == KILN_E_CONFLICT)
        return kiln_error_set(err, KILN_E_CONFLICT, "builder '%s/%s' exists already", b->account,
                              b->name);
    return r < 0 ? r : 0;
}

static void from_row(sqlite3_stmt *st, struct kilnd_builder *b)
{
    *b = (struct kilnd_builder){
            .account = kiln_xstrdup((const char *)sqlite3_column_text(st, 0)),
            .name = kiln_xstrdup((const char *)sqlite3_column_text(st, 1)),
            .timeout_s = sqlite3_column_int64(st, 2),
            .platforms = KILN_STRV_INIT,
            .concurrency = sqlite3_column_int(st, 4),
            .cache_max = (uint64_t)sqlite3_column_int64(st, 5),
            .allow_network_host = sqlite3_column_int(st, 6) != 0,
    };
    const char *p = (const char *)sqlite3_column_text(st, 3);
    while (*p) {
        size_t n = strcspn(p, ",");
        kiln_strv_pushn(&b->platforms, p, n);
        p += n + (p[n] == ',');
    }
}

static int not_found(const char *account, const char *name, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "no builder '%s/%s': create it with kilnd admin builder create", account,
                          name);
}

int kilnd_builder_update(struct kilnd_db *db, const struct kilnd_builder *b,
                         struct kiln_error **err)
{
    int r = check(b, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *platforms = platforms_join(&b->platforms);
    r = kilnd_db_run(db,
                     "UPDATE builders SET timeout_s = ?, platforms = ?, concurrency = ?, "
                     "cache_max = ?, allow_network_host = ? WHERE account = ? AND name = ?",
                     "itiiitt", err, b->timeout_s, platforms, (int64_t)b->concurrency,
                     (int64_t)b->cache_max, (int64_t)b->allow_network_host, b->account, b->name);
    if (r == 0)
        return not_found(b->account, b->name, err);
    return r < 0 ? r : 0;
}

int kilnd_builder_get(struct kilnd_db *db, const char *account, const char *name,
                      struct kilnd_builder **ret, struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT " COLUMNS " FROM builders WHERE account = ? AND name = ?",
                             "tt", &st, err, account, name);
    if (r >= 0)
        r = kilnd_db_step(st, err);
    if (r < 0)
        return r;
    if (r == 0)
        return not_found(account, name, err);
    struct kilnd_builder *b = kiln_xmalloc(sizeof(*b));
    from_row(st, b);
    *ret = b;
    return 0;
}

int kilnd_builder_list(struct kilnd_db *db, const char *account, struct kilnd_builder **ret,
                       size_t *ret_n, struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db,
                             "SELECT " COLUMNS " FROM builders WHERE ?1 IS NULL OR account = ?1 "
                             "ORDER BY account, name LIMIT ?2",
                             "ti", &st, err, account, (int64_t)KILND_BUILDERS_LIST_MAX);
    struct kilnd_builder *list = NULL;
    size_t n = 0, alloc = 0;
    while (r >= 0 && (r = kilnd_db_step(st, err)) > 0) {
        KILN_GROW(list, alloc, n + 1);
        from_row(st, &list[n++]);
    }
    if (r < 0) {
        kilnd_builder_list_free(list, n);
        return r;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int kilnd_builder_remove(struct kilnd_db *db, const char *account, const char *name,
                         struct kiln_error **err)
{
    _cleanup_free_ char *ref = kiln_xasprintf("%s/%s", account, name);
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db,
                             "SELECT count(*) FROM builds WHERE builder = ? AND state IN "
                             "('uploading', 'queued', 'running')",
                             "t", &st, err, ref);
    if (r >= 0)
        r = kilnd_db_step(st, err);
    if (r < 0)
        return r;
    int64_t active = sqlite3_column_int64(st, 0);
    if (active > 0)
        return kiln_error_set(err, KILN_E_CONFLICT,
                              "builder '%s' has %lld builds in progress: wait for them to end "
                              "or cancel them, then remove it",
                              ref, (long long)active);
    r = kilnd_db_run(db, "DELETE FROM builders WHERE account = ? AND name = ?", "tt", err, account,
                     name);
    if (r == 0)
        return not_found(account, name, err);
    return r < 0 ? r : 0;
}
