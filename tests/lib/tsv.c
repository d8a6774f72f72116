/* SPDX-License-Identifier: Apache-2.0 */
#include "tsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static _Noreturn void die(const char *what, const char *path)
{
    fprintf(stderr, "tsv: %s '%s'\n", what, path);
    printf("Bail out! %s '%s'\n", what, path);
    exit(2);
}

char *tsv_slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        die("cannot open", path);
    size_t alloc = 0, len = 0;
    char *buf = NULL;
    for (;;) {
        KILN_GROW(buf, alloc, len + 65536);
        size_t n = fread(buf + len, 1, alloc - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        die("cannot read", path);
    fclose(f);
    buf[len] = '\0';
    if (ret_len)
        *ret_len = len;
    return buf;
}

char *conformance_path(const char *rel)
{
    const char *dir = getenv("KILN_CONFORMANCE_DIR");
    if (!dir || !*dir)
        die("KILN_CONFORMANCE_DIR is not set; run through meson test, looking for", rel);
    return kiln_xasprintf("%s/%s", dir, rel);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void parse_field(struct tsv_field *fld, const char *s, size_t n, const char *path)
{
    if (n == 0 || s[0] != '"') {
        fld->text = kiln_xstrndup(s, n);
        fld->len = n;
        fld->quoted = false;
        return;
    }
    char *out = kiln_xmalloc(n + 1);
    size_t o = 0, i = 1;
    for (; i < n && s[i] != '"'; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i >= n)
            die("dangling escape in", path);
        switch (s[i]) {
        case '\\': out[o++] = '\\'; break;
        case '"': out[o++] = '"'; break;
        case 't': out[o++] = '\t'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 'x':
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                die("bad \\x escape in", path);
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
            break;
        default: die("unknown escape in", path);
        }
    }
    if (i >= n)
        die("unterminated quoted field in", path);
    out[o] = '\0';
    fld->text = out;
    fld->len = o;
    fld->quoted = true;
}

void tsv_load(struct tsv_file *out, const char *path)
{
    size_t len;
    char *buf = tsv_slurp(path, &len);
    size_t alloc = 0;
    memset(out, 0, sizeof(*out));
    unsigned lineno = 0;
    for (char *p = buf; p < buf + len;) {
        char *eol = memchr(p, '\n', (size_t)(buf + len - p));
        if (!eol)
            eol = buf + len;
        lineno++;
        size_t ll = (size_t)(eol - p);
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        if (ll > 0 && p[0] != '#') {
            struct tsv_record rec = {.line = lineno};
            size_t falloc = 0;
            for (size_t s = 0;;) {
                const char *tab = memchr(p + s, '\t', ll - s);
                size_t e = tab ? (size_t)(tab - p) : ll;
                KILN_GROW(rec.f, falloc, rec.n + 1);
                parse_field(&rec.f[rec.n++], p + s, e - s, path);
                if (!tab)
                    break;
                s = e + 1;
            }
            KILN_GROW(out->r, alloc, out->n + 1);
            out->r[out->n++] = rec;
        }
        p = eol + 1;
    }
    free(buf);
}

void tsv_release(struct tsv_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        for (size_t j = 0; j < f->r[i].n; j++)
            free(f->r[i].f[j].text);
        free(f->r[i].f);
    }
    free(f->r);
    memset(f, 0, sizeof(*f));
}

bool tsv_is(const struct tsv_record *r, size_t i, const char *w)
{
    return i < r->n && !r->f[i].quoted && strcmp(r->f[i].text, w) == 0;
}

size_t tsv_section(const struct tsv_record *r, size_t from, const char *key)
{
    for (size_t i = from; i < r->n; i++)
        if (tsv_is(r, i, key))
            return i;
    return (size_t)-1;
}

size_t tsv_section_len(const struct tsv_record *r, size_t i)
{
    size_t n = 0;
    while (i + 1 + n < r->n && r->f[i + 1 + n].quoted)
        n++;
    return n;
}
