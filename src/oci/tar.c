/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar.c - Go archive/tar's header encoding (Writer.WriteHeader with Format
 * PAX, as containerd's ChangeWriter calls it), and a reader that holds every
 * untrusted size against a limit before it reads or allocates.
 */
#include "tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "base/path.h"

#include "base/banned.h"

/* Offsets and widths of the header fields (POSIX ustar). */
enum {
    F_NAME = 0,
    F_MODE = 100,
    F_UID = 108,
    F_GID = 116,
    F_SIZE = 124,
    F_MTIME = 136,
    F_CHKSUM = 148,
    F_TYPE = 156,
    F_LINK = 157,
    F_MAGIC = 257,
    F_VERSION = 263,
    F_UNAME = 265,
    F_GNAME = 297,
    F_DEVMAJOR = 329,
    F_DEVMINOR = 337,
    F_PREFIX = 345,
};
#define W_NAME   100u
#define W_PREFIX 155u

#define PAX_PREFIX_XATTR "SCHILY.xattr."
#define PAX_EXT_NAME     "PaxHeaders.0"

/* ---- writing, as Go's archive/tar ---- */

/* Go's fitsInOctal. */
static bool fits_octal(size_t width, int64_t x)
{
    return x >= 0 && (width >= 22 || x < ((int64_t)1 << ((width - 1) * 3)));
}

/* Go's formatter.formatString: NUL-terminated when shorter, trailing-slash care when cut. */
static void put_string(unsigned char *b, size_t width, const char *s)
{
    size_t n = strlen(s);
    memcpy(b, s, n < width ? n : width);
    if (n < width)
        b[n] = '\0';
    if (n > width && b[width - 1] == '/') {
        size_t m = width - 1;
        while (m > 0 && s[m - 1] == '/')
            m--;
        b[m] = '\0';
    }
}

/* Go's formatter.formatOctal: zero-padded, NUL-terminated; 0 when it does not fit. */
static void put_octal(unsigned char *b, size_t width, int64_t x)
{
    char s[32];
    if (!fits_octal(width, x))
        x = 0;
    (void)snprintf(s, sizeof(s), "%0*" PRIo64, (int)width - 1, (uint64_t)x);
    put_string(b, width, s);
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Go's toASCII: drops every byte outside ASCII (and so every multi-byte rune). */
static char *to_ascii(const char *s)
{
    char *out = kiln_xmalloc(strlen(s) + 1), *w = out;
    for (; *s; s++)
        if ((unsigned char)*s < 0x80)
            *w++ = *s;
    *w = '\0';
    return out;
}

/* Go's splitUSTARPath: the position of the '/' that splits name into prefix and name, or 0. */
static size_t split_ustar(const char *name)
{
    size_t len = strlen(name), n = len;
    if (len <= W_NAME || !is_ascii(name))
        return 0;
    if (n > W_PREFIX + 1)
        n = W_PREFIX + 1;
    else if (name[n - 1] == '/')
        n--;
    size_t i = n;
    while (i > 0 && name[i - 1] != '/')
        i--;
    if (i == 0)
        return 0;
    i--; /* the '/' */
    size_t suffix = len - i - 1;
    if (i == 0 || suffix > W_NAME || suffix == 0 || i > W_PREFIX)
        return 0;
    return i;
}

/* Sets magic and version (USTAR and PAX share them) and the checksum. */
static void finish_block(unsigned char *blk)
{
    memcpy(blk + F_MAGIC, "ustar\0", 6);
    memcpy(blk + F_VERSION, "00", 2);
    memset(blk + F_CHKSUM, ' ', 8);
    unsigned sum = 0;
    for (unsigned i = 0; i < KILN_OCI_TAR_BLOCK; i++)
        sum += blk[i];
    put_octal(blk + F_CHKSUM, 7, sum);
    blk[F_CHKSUM + 7] = ' ';
}

struct pax_rec {
    char *key;
    const char *value;
    size_t len;
};

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pax_rec *)a)->key, ((const struct pax_rec *)b)->key);
}

static size_t digits(size_t n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Go's formatPAXRecord: "<len> <key>=<value>\n", len counting itself. */
static int add_record(struct kiln_buf *b, const struct pax_rec *rec)
{
    size_t base = strlen(rec->key) + rec->len + 3;
    size_t size = base + digits(base + digits(base));
    int r = kiln_buf_addf(b, "%zu %s=", size, rec->key);
    if (r >= 0)
        r = kiln_buf_add(b, rec->value, rec->len);
    return r < 0 ? r : kiln_buf_addch(b, '\n');
}

/* The extended header's name: path.Join(dir, "PaxHeaders.0", file), made ASCII, cut, no '/' at the
 * end. */
static char *pax_ext_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    size_t dir = slash ? (size_t)(slash - name) + 1 : 0;
    _cleanup_free_ char *joined =
            kiln_xasprintf("%.*s/" PAX_EXT_NAME "/%s", (int)dir, name, name + dir);
    _cleanup_free_ char *clean =
            kiln_path_clean(joined + (dir ? 0 : 1), strlen(joined + (dir ? 0 : 1)));
    char *ascii = to_ascii(clean);
    size_t n = strlen(ascii);
    if (n > W_NAME)
        n = W_NAME;
    while (n > 0 && ascii[n - 1] == '/')
        n--;
    ascii[n] = '\0';
    return ascii;
}

/* The PAX records Go would write for h, and whether plain USTAR can hold h. */
static bool collect_records(const struct kiln_oci_tar_header *h, struct pax_rec *recs,
                            size_t *n_recs, char nums[4][24])
{
    bool ustar = true;
    size_t n = 0;
    if (!is_ascii(h->name) || strlen(h->name) > W_NAME) {
        if (!split_ustar(h->name))
            ustar = false;
        recs[n++] = (struct pax_rec){kiln_xstrdup("path"), h->name, strlen(h->name)};
    }
    if (!is_ascii(h->linkname) || strlen(h->linkname) > W_NAME) {
        ustar = false;
        recs[n++] = (struct pax_rec){kiln_xstrdup("linkpath"), h->linkname, strlen(h->linkname)};
    }
    const struct {
        const char *key;
        int64_t v;
        size_t width;
    } numeric[] = {{"uid", (int64_t)h->uid, 8},
                   {"gid", (int64_t)h->gid, 8},
                   {"size", (int64_t)h->size, 12},
                   {"mtime", h->mtime, 12}};
    for (size_t i = 0, k = 0; i < ELEMENTSOF(numeric); i++) {
        if (fits_octal(numeric[i].width, numeric[i].v))
            continue;
        ustar = false;
        int len = snprintf(nums[k], sizeof(nums[k]), "%" PRId64, numeric[i].v);
        recs[n++] = (struct pax_rec){kiln_xstrdup(numeric[i].key), nums[k++], (size_t)len};
    }
    for (size_t i = 0; i < h->n_xattrs; i++) {
        ustar = false;
        recs[n++] = (struct pax_rec){kiln_xasprintf(PAX_PREFIX_XATTR "%s", h->xattrs[i].name),
                                     h->xattrs[i].value, h->xattrs[i].len};
    }
    *n_recs = n;
    return ustar;
}

/* Go's writeRawFile for the extended header: a minimal header, then the records. */
static int put_pax_file(const char *name, const struct kiln_buf *data, struct kiln_buf *out)
{
    unsigned char blk[KILN_OCI_TAR_BLOCK] = {0};
    _cleanup_free_ char *ext = pax_ext_name(name);
    put_string(blk + F_NAME, W_NAME, ext);
    put_octal(blk + F_MODE, 8, 0);
    put_octal(blk + F_UID, 8, 0);
    put_octal(blk + F_GID, 8, 0);
    put_octal(blk + F_SIZE, 12, (int64_t)data->len);
    put_octal(blk + F_MTIME, 12, 0);
    blk[F_TYPE] = 'x';
    finish_block(blk);
    static const char zeros[KILN_OCI_TAR_BLOCK];
    int r = kiln_buf_add(out, blk, sizeof(blk));
    if (r >= 0)
        r = kiln_buf_add(out, data->buf, data->len);
    if (r >= 0)
        r = kiln_buf_add(out, zeros, kiln_oci_tar_padding(data->len));
    return r;
}

/* Go's templateV7Plus and the USTAR prefix split (split == 0: none). */
static void put_main(const struct kiln_oci_tar_header *h, bool ustar, unsigned char *blk)
{
    size_t split = ustar ? split_ustar(h->name) : 0;
    _cleanup_free_ char *name =
            ustar ? kiln_xstrdup(h->name + (split ? split + 1 : 0)) : to_ascii(h->name);
    _cleanup_free_ char *link = to_ascii(h->linkname);
    blk[F_TYPE] = (unsigned char)h->type;
    put_string(blk + F_NAME, W_NAME, name);
    put_string(blk + F_LINK, W_NAME, link);
    put_octal(blk + F_MODE, 8, h->mode);
    put_octal(blk + F_UID, 8, (int64_t)h->uid);
    put_octal(blk + F_GID, 8, (int64_t)h->gid);
    put_octal(blk + F_SIZE, 12, (int64_t)h->size);
    put_octal(blk + F_MTIME, 12, h->mtime);
    put_string(blk + F_UNAME, 32, "");
    put_string(blk + F_GNAME, 32, "");
    put_octal(blk + F_DEVMAJOR, 8, h->devmajor);
    put_octal(blk + F_DEVMINOR, 8, h->devminor);
    if (split) {
        _cleanup_free_ char *prefix = kiln_xstrndup(h->name, split);
        put_string(blk + F_PREFIX, W_PREFIX, prefix);
    }
    finish_block(blk);
}

int kiln_oci_tar_header_encode(const struct kiln_oci_tar_header *h, struct kiln_buf *out,
                               struct kiln_error **err)
{
    if (!fits_octal(8, h->devmajor) || !fits_octal(8, h->devminor))
        return kiln_error_set(err, KILN_E_INVALID, "layer entry '%s': device number too large",
                              h->name);
    struct pax_rec *recs = kiln_xcalloc(6 + h->n_xattrs, sizeof(*recs));
    char nums[4][24];
    size_t n = 0;
    bool ustar = collect_records(h, recs, &n, nums);
    int r = 0;
    if (!ustar) {
        struct kiln_buf data = KILN_BUF_INIT(KILN_LAYER_PAX_MAX);
        qsort(recs, n, sizeof(*recs), rec_cmp);
        for (size_t i = 0; i < n && r >= 0; i++)
            r = add_record(&data, &recs[i]);
        if (r >= 0)
            r = put_pax_file(h->name, &data, out);
        kiln_buf_release(&data);
    }
    for (size_t i = 0; i < n; i++)
        free(recs[i].key);
    free(recs);
    if (r < 0)
        return kiln_error_set(err, KILN_E_LIMIT, "layer entry '%s': PAX header over %u bytes",
                              h->name, KILN_LAYER_PAX_MAX);
    unsigned char blk[KILN_OCI_TAR_BLOCK] = {0};
    put_main(h, ustar, blk);
    r = kiln_buf_add(out, blk, sizeof(blk));
    if (r < 0)
        return kiln_error_set(err, r, "layer entry '%s': header buffer full", h->name);
    return 0;
}

void kiln_oci_tar_header_clear(struct kiln_oci_tar_header *h)
{
    free(h->name);
    free(h->linkname);
    for (size_t i = 0; i < h->n_xattrs; i++) {
        free(h->xattrs[i].name);
        free(h->xattrs[i].value);
    }
    free(h->xattrs);
    *h = (struct kiln_oci_tar_header){0};
}

/* ---- reading ---- */

#define READ_CHUNK (64u * 1024)

struct kiln_oci_tar_reader {
    kiln_oci_read_fn in;
    void *userdata;
    uint64_t max_bytes, max_entries, entries;
    const char *what; /* "layer" or "archive", for messages */
    uint64_t offset;  /* archive bytes consumed */
    unsigned char *buf;
    size_t pos, len;
    bool eof, done;
    uint64_t remaining, pad; /* of the current entry */
    struct kiln_oci_tar_header h;
    struct kiln_buf pax;         /* records of the PAX headers before the entry */
    char *long_name, *long_link; /* GNU 'L' and 'K' */
};

void kiln_oci_tar_reader_new(kiln_oci_read_fn in, void *userdata,
                             const struct kiln_oci_tar_limits *limits,
                             struct kiln_oci_tar_reader **ret)
{
    struct kiln_oci_tar_reader *r = kiln_xcalloc(1, sizeof(*r));
    r->in = in;
    r->userdata = userdata;
    r->max_bytes = limits && limits->max_bytes ? limits->max_bytes : KILN_LAYER_SIZE_MAX;
    r->max_entries = limits && limits->max_entries ? limits->max_entries : KILN_LAYER_ENTRIES_MAX;
    r->what = limits && limits->what ? limits->what : "layer";
    r->buf = kiln_xmalloc(READ_CHUNK);
    kiln_buf_init(&r->pax, KILN_LAYER_PAX_MAX);
    *ret = r;
}

void kiln_oci_tar_reader_free(struct kiln_oci_tar_reader *r)
{
    if (!r)
        return;
    kiln_oci_tar_header_clear(&r->h);
    kiln_buf_release(&r->pax);
    free(r->long_name);
    free(r->long_link);
    free(r->buf);
    free(r);
}

uint64_t kiln_oci_tar_reader_offset(const struct kiln_oci_tar_reader *r)
{
    return r->offset;
}

/* Up to n archive bytes into dst (NULL: skip them): the count, 0 at the end of the stream. */
static ssize_t pull(struct kiln_oci_tar_reader *r, void *dst, size_t n, struct kiln_error **err)
{
    if (r->pos == r->len && !r->eof) {
        ssize_t got = r->in(r->userdata, r->buf, READ_CHUNK, err);
        if (got < 0)
            return got;
        r->pos = 0;
        r->len = (size_t)got;
        r->eof = got == 0;
    }
    size_t avail = r->len - r->pos;
    if (n > avail)
        n = avail;
    if (r->offset + n > r->max_bytes)
        return kiln_error_set(err, KILN_E_LIMIT, "%s is larger than the limit of %" PRIu64 " bytes",
                              r->what, r->max_bytes);
    if (dst)
        memcpy(dst, r->buf + r->pos, n);
    r->pos += n;
    r->offset += n;
    return (ssize_t)n;
}

/* Exactly n bytes: 1, or 0 when the stream ended before the first byte. */
static int pull_full(struct kiln_oci_tar_reader *r, void *dst, size_t n, struct kiln_error **err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pull(r, dst ? (char *)dst + done : NULL, n - done, err);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            if (done == 0)
                return 0;
            return kiln_error_set(err, KILN_E_INVALID, "truncated tar stream at byte %" PRIu64,
                                  r->offset);
        }
        done += (size_t)got;
    }
    return 1;
}

static int skip(struct kiln_oci_tar_reader *r, uint64_t n, struct kiln_error **err)
{
    while (n > 0) {
        ssize_t got = pull(r, NULL, n > READ_CHUNK ? READ_CHUNK : (size_t)n, err);
        if (got < 0)
            return (int)got;
        if (got == 0)
            return kiln_error_set(err, KILN_E_INVALID, "truncated tar stream at byte %" PRIu64,
                                  r->offset);
        n -= (uint64_t)got;
    }
    return 0;
}

/* A NUL-terminated (or full-width) string field. */
static char *field_string(const unsigned char *b, size_t width)
{
    return kiln_xstrndup((const char *)b, strnlen((const char *)b, width));
}

/* Go's parseNumeric: base-256 when the high bit is set, else octal padded with spaces and NULs. */
static int field_number(const unsigned char *b, size_t width, int64_t *ret)
{
    if (b[0] & 0x80) {
        unsigned char inv = (b[0] & 0x40) ? 0xff : 0;
        uint64_t x = 0;
        for (size_t i = 0; i < width; i++) {
            unsigned char c = b[i] ^ inv;
            if (i == 0)
                c &= 0x7f;
            if (x >> 56)
                return -1;
            x = x << 8 | c;
        }
        if (x >> 63)
            return -1;
        *ret = inv ? ~(int64_t)x : (int64_t)x;
        return 0;
    }
    size_t s = 0, e = width;
    while (s < e && (b[s] == ' ' || b[s] == '\0'))
        s++;
    while (e > s && (b[e - 1] == ' ' || b[e - 1] == '\0'))
        e--;
    uint64_t x = 0;
    for (size_t i = s; i < e; i++) {
        if (b[i] < '0' || b[i] > '7' || (x >> 61))
            return -1;
        x = x << 3 | (uint64_t)(b[i] - '0');
    }
    if (x >> 63)
        return -1;
    *ret = (int64_t)x;
    return 0;
}

static bool checksum_ok(const unsigned char *blk)
{
    int64_t stored;
    if (field_number(blk + F_CHKSUM, 8, &stored) < 0)
        return false;
    int64_t usum = 0, ssum = 0;
    for (unsigned i = 0; i < KILN_OCI_TAR_BLOCK; i++) {
        unsigned char c = (i >= F_CHKSUM && i < F_CHKSUM + 8) ? ' ' : blk[i];
        usum += c;
        ssum += (signed char)c;
    }
    return stored == usum || stored == ssum;
}

static bool all_zero(const unsigned char *blk)
{
    for (unsigned i = 0; i < KILN_OCI_TAR_BLOCK; i++)
        if (blk[i])
            return false;
    return true;
}

/* After a zero block: a second one (or the end), then whatever padding follows. */
static int read_end(struct kiln_oci_tar_reader *r, struct kiln_error **err)
{
    unsigned char blk[KILN_OCI_TAR_BLOCK];
    int k = pull_full(r, blk, sizeof(blk), err);
    if (k < 0)
        return k;
    if (k > 0 && !all_zero(blk))
        return kiln_error_set(err, KILN_E_INVALID,
                              "malformed tar stream: a header after a zero block at byte %" PRIu64,
                              r->offset);
    ssize_t got;
    while ((got = pull(r, NULL, READ_CHUNK, err)) > 0)
        ;
    r->done = true;
    return (int)got;
}

/* The content of a PAX or GNU header, at most `max` bytes, appended to b. */
static int read_special(struct kiln_oci_tar_reader *r, const unsigned char *blk, size_t max,
                        struct kiln_buf *b, struct kiln_error **err)
{
    int64_t size;
    if (field_number(blk + F_SIZE, 12, &size) < 0 || size < 0)
        return kiln_error_set(err, KILN_E_INVALID, "malformed tar header at byte %" PRIu64,
                              r->offset);
    if ((uint64_t)size > max || b->len + (uint64_t)size > b->max)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "tar extension header of %" PRId64 " bytes over the limit of %zu",
                              size, max);
    int k = kiln_buf_grow(b, (size_t)size);
    if (k >= 0)
        k = pull_full(r, b->buf + b->len, (size_t)size, err);
    if (k == 0)
        k = kiln_error_set(err, KILN_E_INVALID, "truncated tar stream at byte %" PRIu64, r->offset);
    if (k < 0)
        return k;
    b->len += (size_t)size;
    b->buf[b->len] = '\0';
    return skip(r, kiln_oci_tar_padding((uint64_t)size), err);
}

static int read_long_name(struct kiln_oci_tar_reader *r, const unsigned char *blk, char **dst,
                          struct kiln_error **err)
{
    struct kiln_buf b = KILN_BUF_INIT(KILN_LAYER_NAME_MAX + 1);
    int k = read_special(r, blk, KILN_LAYER_NAME_MAX + 1, &b, err);
    if (k < 0) {
        kiln_buf_release(&b);
        return k;
    }
    free(*dst);
    *dst = kiln_xstrndup(b.buf, strnlen(b.buf, b.len));
    kiln_buf_release(&b);
    return 0;
}

/* A decimal PAX value (Go's strconv.ParseInt, base 10). */
static int parse_decimal(const char *s, size_t n, int64_t *ret)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg || (n > 0 && s[0] == '+');
    uint64_t x = 0;
    if (i == n)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (UINT64_C(1) << 62) / 5)
            return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x > INT64_MAX)
        return -1;
    *ret = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

/* Go's parsePAXTime: seconds with an optional fraction, nanoseconds truncated. */
static int parse_time(const char *s, size_t n, int64_t *ret_sec, uint32_t *ret_nsec)
{
    const char *dot = memchr(s, '.', n);
    size_t ilen = dot ? (size_t)(dot - s) : n;
    int64_t sec;
    if (parse_decimal(s, ilen, &sec) < 0)
        return -1;
    uint32_t nsec = 0;
    for (size_t i = ilen + 1, k = 0; dot && i < n; i++, k++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (k < 9)
            nsec = nsec * 10 + (uint32_t)(s[i] - '0');
    }
    for (size_t k = dot ? n - ilen - 1 : 0; k < 9; k++)
        nsec *= 10;
    if (s[0] == '-' && nsec) { /* -1.5 is 1.5 s before the epoch */
        sec--;
        nsec = 1000000000u - nsec;
    }
    *ret_sec = sec;
    *ret_nsec = nsec;
    return 0;
}

static void set_xattr(struct kiln_oci_tar_header *h, const char *name, const char *v, size_t len)
{
    size_t i = 0;
    while (i < h->n_xattrs && strcmp(h->xattrs[i].name, name) != 0)
        i++;
    if (i == h->n_xattrs) {
        h->xattrs = kiln_xrealloc(h->xattrs, (h->n_xattrs + 1) * sizeof(*h->xattrs));
        h->xattrs[h->n_xattrs++] = (struct kiln_oci_xattr){.name = kiln_xstrdup(name)};
    }
    free(h->xattrs[i].value);
    h->xattrs[i].value = kiln_xmalloc(len + 1);
    memcpy(h->xattrs[i].value, v, len);
    h->xattrs[i].value[len] = '\0';
    h->xattrs[i].len = len;
}

/* One record "<len> <key>=<value>\n" of the PAX data applied to h (Go's mergePAX). */
static int apply_record(struct kiln_oci_tar_header *h, const char *key, const char *v, size_t vn)
{
    int64_t x;
    bool has_nul = memchr(v, '\0', vn) != NULL;
    if (strcmp(key, "path") == 0 || strcmp(key, "linkpath") == 0) {
        char **dst = key[0] == 'p' ? &h->name : &h->linkname;
        if (has_nul)
            return -1;
        free(*dst);
        *dst = kiln_xstrndup(v, vn);
    } else if (strcmp(key, "size") == 0 || strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
        if (parse_decimal(v, vn, &x) < 0 || x < 0)
            return -1;
        *(key[0] == 's' ? &h->size : key[0] == 'u' ? &h->uid : &h->gid) = (uint64_t)x;
    } else if (strcmp(key, "mtime") == 0) {
        if (parse_time(v, vn, &h->mtime, &h->mtime_nsec) < 0)
            return -1;
    } else if (strncmp(key, PAX_PREFIX_XATTR, strlen(PAX_PREFIX_XATTR)) == 0) {
        if (!key[strlen(PAX_PREFIX_XATTR)])
            return -1;
        set_xattr(h, key + strlen(PAX_PREFIX_XATTR), v, vn);
    } else if (strncmp(key, "GNU.sparse.", 11) == 0) {
        return -2;
    }
    return 0;
}

static int apply_pax(struct kiln_oci_tar_reader *r, struct kiln_error **err)
{
    const char *p = r->pax.buf, *end = r->pax.buf + r->pax.len;
    while (p < end) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        int64_t n;
        if (!sp || parse_decimal(p, (size_t)(sp - p), &n) < 0 || n < 5 || n > end - p ||
            n <= sp - p + 1 || p[n - 1] != '\n')
            return kiln_error_set(err, KILN_E_INVALID, "malformed PAX record before '%s'",
                                  r->h.name);
        const char *rec = sp + 1, *eq = memchr(rec, '=', (size_t)(p + n - 1 - rec));
        if (!eq || eq == rec || memchr(rec, '\0', (size_t)(eq - rec)))
            return kiln_error_set(err, KILN_E_INVALID, "malformed PAX record before '%s'",
                                  r->h.name);
        _cleanup_free_ char *key = kiln_xstrndup(rec, (size_t)(eq - rec));
        int k = apply_record(&r->h, key, eq + 1, (size_t)(p + n - 1 - (eq + 1)));
        if (k == -2)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s entry '%s': sparse files are not supported", r->what,
                                  r->h.name);
        if (k < 0)
            return kiln_error_set(err, KILN_E_INVALID, "%s entry '%s': malformed PAX record '%s'",
                                  r->what, r->h.name, key);
        p += n;
    }
    return 0;
}

/* The fields of the main header block. */
static int parse_block(struct kiln_oci_tar_reader *r, const unsigned char *blk,
                       struct kiln_error **err)
{
    struct kiln_oci_tar_header *h = &r->h;
    bool ustar = memcmp(blk + F_MAGIC, "ustar\0", 6) == 0;
    bool gnu = memcmp(blk + F_MAGIC, "ustar  \0", 8) == 0;
    int64_t mode, uid, gid, size, mtime, major = 0, minor = 0;
    if (field_number(blk + F_MODE, 8, &mode) < 0 || field_number(blk + F_UID, 8, &uid) < 0 ||
        field_number(blk + F_GID, 8, &gid) < 0 || field_number(blk + F_SIZE, 12, &size) < 0 ||
        field_number(blk + F_MTIME, 12, &mtime) < 0 ||
        ((ustar || gnu) && (field_number(blk + F_DEVMAJOR, 8, &major) < 0 ||
                            field_number(blk + F_DEVMINOR, 8, &minor) < 0)) ||
        uid < 0 || gid < 0 || size < 0 || major < 0 || minor < 0 || major > UINT32_MAX ||
        minor > UINT32_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "malformed tar header at byte %" PRIu64,
                              r->offset - KILN_OCI_TAR_BLOCK);
    _cleanup_free_ char *name = field_string(blk + F_NAME, W_NAME);
    _cleanup_free_ char *prefix = ustar ? field_string(blk + F_PREFIX, W_PREFIX) : NULL;
    h->name = prefix && *prefix ? kiln_xasprintf("%s/%s", prefix, name) : TAKE_PTR(name);
    h->linkname = field_string(blk + F_LINK, W_NAME);
    h->type = (char)blk[F_TYPE];
    h->mode = (uint32_t)(mode & 07777);
    h->uid = (uint64_t)uid;
    h->gid = (uint64_t)gid;
    h->size = (uint64_t)size;
    h->mtime = mtime;
    h->devmajor = (uint32_t)major;
    h->devminor = (uint32_t)minor;
    return 0;
}

static bool header_only(char type)
{
    return type != KILN_OCI_TAR_REG;
}

/* Builds r->h from a main header block and what the extension headers said. */
static int make_entry(struct kiln_oci_tar_reader *r, const unsigned char *blk,
                      struct kiln_error **err)
{
    struct kiln_oci_tar_header *h = &r->h;
    int k = parse_block(r, blk, err);
    if (k >= 0)
        k = apply_pax(r, err);
    if (k < 0)
        return k;
    if (r->long_name) {
        free(h->name);
        h->name = TAKE_PTR(r->long_name);
    }
    if (r->long_link) {
        free(h->linkname);
        h->linkname = TAKE_PTR(r->long_link);
    }
    kiln_buf_reset(&r->pax);
    size_t n = strlen(h->name);
    if (h->type == '\0' || h->type == '7')
        h->type = n > 0 && h->name[n - 1] == '/' && h->type == '\0' ? KILN_OCI_TAR_DIR
                                                                    : KILN_OCI_TAR_REG;
    if (!strchr("0123456", h->type) || h->type == '\0')
        return kiln_error_set(err, KILN_E_INVALID, "%s entry '%s': unsupported type '%c'", r->what,
                              h->name, h->type);
    if (n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "tar entry with an empty name at byte %" PRIu64,
                              r->offset);
    if (n > KILN_LAYER_NAME_MAX || strlen(h->linkname) > KILN_LAYER_NAME_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "%s entry '%.64s...': name longer than %u bytes",
                              r->what, h->name, KILN_LAYER_NAME_MAX);
    if (h->uid > UINT32_MAX || h->gid > UINT32_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "%s entry '%s': owner out of range", r->what,
                              h->name);
    if (++r->entries > r->max_entries)
        return kiln_error_set(err, KILN_E_LIMIT, "%s has more than %" PRIu64 " entries", r->what,
                              r->max_entries);
    if (header_only(h->type))
        h->size = 0;
    r->remaining = h->size;
    r->pad = kiln_oci_tar_padding(h->size);
    return 0;
}

int kiln_oci_tar_reader_next(struct kiln_oci_tar_reader *r,
                             const struct kiln_oci_tar_header **ret_header, struct kiln_error **err)
{
    if (r->done)
        return 0;
    int k = skip(r, r->remaining + r->pad, err);
    if (k < 0)
        return k;
    r->remaining = r->pad = 0;
    kiln_oci_tar_header_clear(&r->h);
    for (;;) {
        unsigned char blk[KILN_OCI_TAR_BLOCK];
        k = pull_full(r, blk, sizeof(blk), err);
        if (k == 0)
            k = kiln_error_set(err, KILN_E_INVALID,
                               "truncated tar stream: no end-of-archive "
                               "marker after %" PRIu64 " bytes",
                               r->offset);
        if (k < 0)
            return k;
        if (all_zero(blk))
            return read_end(r, err);
        if (!checksum_ok(blk))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "tar header checksum mismatch at byte %" PRIu64,
                                  r->offset - KILN_OCI_TAR_BLOCK);
        if (blk[F_TYPE] == 'x' || blk[F_TYPE] == 'g') {
            struct kiln_buf global = KILN_BUF_INIT(KILN_LAYER_PAX_MAX);
            k = read_special(r, blk, KILN_LAYER_PAX_MAX, blk[F_TYPE] == 'x' ? &r->pax : &global,
                             err);
            kiln_buf_release(&global);
        } else if (blk[F_TYPE] == 'L' || blk[F_TYPE] == 'K') {
            k = read_long_name(r, blk, blk[F_TYPE] == 'L' ? &r->long_name : &r->long_link, err);
        } else {
            k = make_entry(r, blk, err);
            if (k < 0)
                return k;
            *ret_header = &r->h;
            return 1;
        }
        if (k < 0)
            return k;
    }
}

ssize_t kiln_oci_tar_reader_read(struct kiln_oci_tar_reader *r, void *buf, size_t len,
                                 struct kiln_error **err)
{
    if (len > r->remaining)
        len = (size_t)r->remaining;
    if (len == 0)
        return 0;
    ssize_t got = pull(r, buf, len, err);
    if (got == 0)
        return kiln_error_set(err, KILN_E_INVALID, "truncated tar stream in '%s'", r->h.name);
    if (got > 0)
        r->remaining -= (uint64_t)got;
    return got;
}
