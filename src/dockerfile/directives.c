/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directives.c - parser directives: `# syntax=`, `# escape=` and `# check=`
 * lines at the very top of a Dockerfile. The first line that is not one
 * (an instruction, a blank line, an ordinary comment, an unknown key) ends
 * the block. After the comment prefix and white space a line must match
 * BuildKit's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
 */
#include "directives.h"

#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "json-array.h"
#include "parser-internal.h"

#include "base/banned.h"

/* RE2's \s: [\t\n\f\r ] (no \v). */
static bool re_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

struct match {
    size_t key, key_n, val, val_n;
};

/* `key = value` per the regexp above; false when the text does not match. */
static bool match_directive(const char *s, size_t n, struct match *m)
{
    size_t i = 0;
    if (i >= n || !is_alpha(s[i]))
        return false;
    m->key = i;
    while (i < n && is_alnum(s[i]))
        i++;
    m->key_n = i - m->key;
    while (i < n && re_space(s[i]))
        i++;
    if (i >= n || s[i] != '=')
        return false;
    i++;
    if (i == n)
        return false;
    /* \s*(.+?)\s*$ : the rest trimmed of \s on both sides; a rest made only
     * of \s yields its last character (the lazy group needs one). */
    size_t end = n, start = i;
    while (end > i && re_space(s[end - 1]))
        end--;
    while (start < end && re_space(s[start]))
        start++;
    if (start == end)
        start = n - 1, end = n;
    m->val = start;
    m->val_n = end - start;
    return true;
}

static bool *seen_flag(struct kiln_df_directive_parser *d, const char *key, size_t n)
{
    if (n == 6 && strncasecmp(key, "syntax", 6) == 0)
        return &d->seen_syntax;
    if (n == 6 && strncasecmp(key, "escape", 6) == 0)
        return &d->seen_escape;
    if (n == 5 && strncasecmp(key, "check", 5) == 0)
        return &d->seen_check;
    return NULL;
}

int kiln_df__directive_line(struct kiln_df_directive_parser *d, const char *prefix,
                            const char *line, size_t n, struct kiln_df_directive *ret,
                            struct kiln_error **err)
{
    if (d->done)
        return 0;
    size_t plen = strlen(prefix);
    struct match m;
    if (n < plen || memcmp(line, prefix, plen) != 0) {
        d->done = true;
        return 0;
    }
    size_t skip = plen + kiln_df__span_space(line + plen, n - plen);
    const char *s = line + skip;
    bool *seen = NULL;
    if (!match_directive(s, n - skip, &m) || !(seen = seen_flag(d, s + m.key, m.key_n))) {
        d->done = true;
        return 0;
    }
    _cleanup_free_ char *name = kiln_xstrndup(s + m.key, m.key_n);
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    if (*seen)
        return kiln_error_set(err, KILN_E_INVALID, "only one %s parser directive can be used",
                              name);
    *seen = true;
    ret->name = TAKE_PTR(name);
    ret->value = kiln_xstrndup(s + m.val, m.val_n);
    return 1;
}

/* Directive `key` among the leading `prefix` lines of s (ParseAll). */
static bool find_in_comments(const char *s, size_t n, const char *prefix, const char *key,
                             unsigned first_line, char **ret_value, unsigned *ret_line)
{
    struct kiln_df_directive_parser d = {0};
    unsigned line = first_line;
    for (size_t i = 0; i < n && !d.done;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t len = e - i;
        if (len > 0 && s[i + len - 1] == '\r')
            len--;
        line++;
        struct kiln_df_directive dir = {0};
        int r = kiln_df__directive_line(&d, prefix, s + i, len, &dir, NULL);
        if (r < 0)
            return false;
        if (r > 0) {
            bool hit = strcmp(dir.name, key) == 0;
            free(dir.name);
            if (hit) {
                *ret_value = dir.value;
                *ret_line = line;
                return true;
            }
            free(dir.value);
        }
        i = e + 1;
    }
    return false;
}

bool kiln_df_find_directive(const char *data, size_t len, const char *key, bool any_format,
                            char **ret_value, unsigned *ret_line)
{
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        data += 3, len -= 3;
    unsigned first = 0;
    if (len >= 2 && data[0] == '#' && data[1] == '!') {
        const char *nl = memchr(data, '\n', len);
        size_t skip = nl ? (size_t)(nl - data) + 1 : len;
        data += skip;
        len -= skip;
        first = 1;
    }
    if (find_in_comments(data, len, "#", key, first, ret_value, ret_line))
        return true;
    if (!any_format)
        return false;
    if (find_in_comments(data, len, "//", key, first, ret_value, ret_line))
        return true;
    if (kiln_df_json_object_string(data, len, key, ret_value) > 0) {
        *ret_line = first;
        return true;
    }
    return false;
}
