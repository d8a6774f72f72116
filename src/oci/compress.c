/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compress.c - gzip, zstd and plain streams for layers.
 *
 * gzip: the input is cut into fixed 1 MiB blocks and each becomes a gzip
 * member of its own (RFC 1952 allows any number; Go's gzip reader, which
 * docker, containerd, skopeo and umoci use, reads them all), compressed by
 * libdeflate, which deflates several times faster than zlib at the same
 * level. The blocks are independent jobs: worker threads compress them
 * while the caller keeps producing tar bytes, and the caller writes them out
 * in order. The output depends on the input and the level only, never on
 * the number of threads. Each member's header is Go's (mtime 0, OS 255).
 */
#include "compress.h"

#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "mediatype.h"

#include "base/banned.h"

#define GZ_BLOCK        (1024u * 1024)
#define GZ_SLOTS        8u
#define GZ_THREADS_MAX  4u
#define GZ_LEVEL_GO     6
#define ZSTD_LEVEL_GO   3
#define ZSTD_WINDOW_LOG 25
#define IO_CHUNK        (64u * 1024)

enum job_state { JOB_FREE, JOB_READY, JOB_BUSY, JOB_DONE };

/* One block of input, compressed into one gzip member of its own. */
struct gz_job {
    unsigned char *in;
    size_t len;
    unsigned char *out;
    size_t out_len, out_alloc;
    bool last;
    struct libdeflate_compressor *z; /* kept from block to block: no allocation per block */
    int error;                       /* a compressor failure, reported by the writer */
    enum job_state state;
};

struct gz {
    int level;
    struct gz_job jobs[GZ_SLOTS];
    uint64_t next_fill, next_take, next_write; /* job sequence numbers */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t threads[GZ_THREADS_MAX];
    unsigned n_threads;
    bool quit;
};

struct kiln_oci_compressor {
    enum kiln_oci_compression kind;
    kiln_oci_write_fn out;
    void *userdata;
    struct gz gz;
    ZSTD_CCtx *zstd;
    unsigned char *zbuf;
    size_t zbuf_len;
};

const char *kiln_oci_compression_name(enum kiln_oci_compression c)
{
    switch (c) {
    case KILN_OCI_COMPRESSION_GZIP: return "gzip";
    case KILN_OCI_COMPRESSION_ZSTD: return "zstd";
    default: return "uncompressed";
    }
}

int kiln_oci_compression_parse(const char *name, enum kiln_oci_compression *ret,
                               struct kiln_error **err)
{
    for (int c = KILN_OCI_COMPRESSION_NONE; c <= KILN_OCI_COMPRESSION_ZSTD; c++) {
        if (strcmp(name, kiln_oci_compression_name(c)) == 0) {
            *ret = c;
            return 0;
        }
    }
    return kiln_error_set(err, KILN_E_INVALID,
                          "unknown compression '%s'; use gzip, zstd or uncompressed", name);
}

const char *kiln_oci_compression_media_type(enum kiln_oci_compression c, bool docker)
{
    switch (c) {
    case KILN_OCI_COMPRESSION_GZIP:
        return docker ? KILN_DOCKER_MT_LAYER_GZIP : KILN_OCI_MT_LAYER_GZIP;
    case KILN_OCI_COMPRESSION_ZSTD: return docker ? NULL : KILN_OCI_MT_LAYER_ZSTD;
    default: return docker ? "application/vnd.docker.image.rootfs.diff.tar" : KILN_OCI_MT_LAYER;
    }
}

/*
 * Compresses one block into job->out as a complete gzip member (libdeflate);
 * runs on a worker thread or the caller's.
 */
static void gz_compress(struct gz_job *job, int level)
{
    job->out_len = 0;
    if (!job->z && !(job->z = libdeflate_alloc_compressor(level))) {
        job->error = -ENOMEM;
        return;
    }
    size_t need = libdeflate_gzip_compress_bound(job->z, job->len);
    if (job->out_alloc < need) {
        free(job->out);
        job->out = kiln_xmalloc(need);
        job->out_alloc = need;
    }
    job->out_len = libdeflate_gzip_compress(job->z, job->in, job->len, job->out, job->out_alloc);
    if (job->out_len < 10) {
        job->error = -EIO;
        return;
    }
    /* Go's compress/gzip header: no name, mtime 0, XFL by level, OS "unknown". */
    job->out[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
    job->out[9] = 255;
}

static void *gz_worker(void *arg)
{
    struct gz *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        struct gz_job *job = &g->jobs[g->next_take % GZ_SLOTS];
        if (g->quit)
            break;
        if (g->next_take == g->next_fill || job->state != JOB_READY) {
            pthread_cond_wait(&g->cond, &g->lock);
            continue;
        }
        job->state = JOB_BUSY;
        g->next_take++;
        pthread_mutex_unlock(&g->lock);
        gz_compress(job, g->level);
        pthread_mutex_lock(&g->lock);
        job->state = JOB_DONE;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static void gz_stop(struct gz *g)
{
    pthread_mutex_lock(&g->lock);
    g->quit = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    for (unsigned i = 0; i < g->n_threads; i++)
        pthread_join(g->threads[i], NULL);
    g->n_threads = 0;
}

static void gz_start(struct gz *g)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = cpus < 2 ? 0 : cpus > GZ_THREADS_MAX ? GZ_THREADS_MAX : (unsigned)cpus;
    while (g->n_threads < want &&
           pthread_create(&g->threads[g->n_threads], NULL, gz_worker, g) == 0)
        g->n_threads++;
}

/* Writes out the oldest block: waits for it (or compresses it when no thread runs). */
static int gz_write_oldest(struct kiln_oci_compressor *c, struct kiln_error **err)
{
    struct gz *g = &c->gz;
    struct gz_job *job = &g->jobs[g->next_write % GZ_SLOTS];
    pthread_mutex_lock(&g->lock);
    if (g->n_threads == 0 && job->state == JOB_READY) {
        job->state = JOB_BUSY;
        g->next_take++;
        pthread_mutex_unlock(&g->lock);
        gz_compress(job, g->level);
        pthread_mutex_lock(&g->lock);
        job->state = JOB_DONE;
    }
    while (job->state != JOB_DONE)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    if (job->error < 0)
        return kiln_error_set(err, job->error, "gzip: deflate failed");
    int r = c->out(c->userdata, job->out, job->out_len, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&g->lock);
    job->state = JOB_FREE;
    pthread_mutex_unlock(&g->lock);
    g->next_write++;
    return 0;
}

/* A job's state, read under the lock: workers change it. */
static enum job_state job_state(struct gz *g, const struct gz_job *job)
{
    pthread_mutex_lock(&g->lock);
    enum job_state state = job->state;
    pthread_mutex_unlock(&g->lock);
    return state;
}

/* Hands the block being filled to the workers and starts the next one. */
static int gz_submit(struct kiln_oci_compressor *c, bool last, struct kiln_error **err)
{
    struct gz *g = &c->gz;
    struct gz_job *job = &g->jobs[g->next_fill % GZ_SLOTS];
    job->last = last;
    job->error = 0;
    pthread_mutex_lock(&g->lock);
    job->state = JOB_READY;
    g->next_fill++;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    if (last)
        return 0;
    if (g->next_fill == 2)
        gz_start(g);
    struct gz_job *next = &g->jobs[g->next_fill % GZ_SLOTS];
    while (job_state(g, next) != JOB_FREE) {
        int r = gz_write_oldest(c, err);
        if (r < 0)
            return r;
    }
    if (!next->in)
        next->in = kiln_xmalloc(GZ_BLOCK);
    next->len = 0;
    return 0;
}

static int gz_write(struct kiln_oci_compressor *c, const unsigned char *p, size_t len,
                    struct kiln_error **err)
{
    struct gz *g = &c->gz;
    while (len > 0) {
        struct gz_job *job = &g->jobs[g->next_fill % GZ_SLOTS];
        if (job->len == GZ_BLOCK) {
            int r = gz_submit(c, false, err);
            if (r < 0)
                return r;
            continue;
        }
        size_t n = GZ_BLOCK - job->len < len ? GZ_BLOCK - job->len : len;
        memcpy(job->in + job->len, p, n);
        job->len += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int gz_finish(struct kiln_oci_compressor *c, struct kiln_error **err)
{
    struct gz *g = &c->gz;
    int r = gz_submit(c, true, err);
    while (r >= 0 && g->next_write < g->next_fill)
        r = gz_write_oldest(c, err);
    return r;
}

static int gz_init(struct kiln_oci_compressor *c, int level, struct kiln_error **err)
{
    if (level == KILN_OCI_LEVEL_DEFAULT)
        level = GZ_LEVEL_GO;
    if (level < 0 || level > 9)
        return kiln_error_set(err, KILN_E_INVALID, "gzip compression level %d is out of range 0-9",
                              level);
    c->gz.level = level;
    pthread_mutex_init(&c->gz.lock, NULL);
    pthread_cond_init(&c->gz.cond, NULL);
    c->gz.jobs[0].in = kiln_xmalloc(GZ_BLOCK);
    return 0;
}

static int zstd_init(struct kiln_oci_compressor *c, int level, struct kiln_error **err)
{
    if (level == KILN_OCI_LEVEL_DEFAULT)
        level = ZSTD_LEVEL_GO;
    if (level < 0 || level > 22)
        return kiln_error_set(err, KILN_E_INVALID, "zstd compression level %d is out of range 0-22",
                              level);
    c->zstd = ZSTD_createCCtx();
    if (!c->zstd)
        return kiln_error_set(err, -ENOMEM, "zstd: cannot create a context");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cpus < 1 ? 1 : cpus > (long)GZ_THREADS_MAX ? (int)GZ_THREADS_MAX : (int)cpus;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, 1)))
        return kiln_error_set(err, -EIO, "zstd: cannot set the compression level %d", level);
    /* Workers change nothing in the output once there is one (libzstd promise). */
    (void)ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_nbWorkers, workers);
    c->zbuf_len = ZSTD_CStreamOutSize();
    c->zbuf = kiln_xmalloc(c->zbuf_len);
    return 0;
}

int kiln_oci_compressor_new(enum kiln_oci_compression kind, int level, kiln_oci_write_fn out,
                            void *userdata, struct kiln_oci_compressor **ret,
                            struct kiln_error **err)
{
    _cleanup_(kiln_oci_compressor_freep) struct kiln_oci_compressor *c =
            kiln_xcalloc(1, sizeof(*c));
    c->kind = kind;
    c->out = out;
    c->userdata = userdata;
    int r = 0;
    if (kind == KILN_OCI_COMPRESSION_GZIP)
        r = gz_init(c, level, err);
    else if (kind == KILN_OCI_COMPRESSION_ZSTD)
        r = zstd_init(c, level, err);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(c);
    return 0;
}

static int zstd_run(struct kiln_oci_compressor *c, const void *data, size_t len,
                    ZSTD_EndDirective mode, struct kiln_error **err)
{
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer o = {c->zbuf, c->zbuf_len, 0};
        size_t left = ZSTD_compressStream2(c->zstd, &o, &in, mode);
        if (ZSTD_isError(left))
            return kiln_error_set(err, -EIO, "zstd: %s", ZSTD_getErrorName(left));
        if (o.pos > 0) {
            int r = c->out(c->userdata, c->zbuf, o.pos, err);
            if (r < 0)
                return r;
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

int kiln_oci_compressor_write(struct kiln_oci_compressor *c, const void *data, size_t len,
                              struct kiln_error **err)
{
    switch (c->kind) {
    case KILN_OCI_COMPRESSION_GZIP: return gz_write(c, data, len, err);
    case KILN_OCI_COMPRESSION_ZSTD: return zstd_run(c, data, len, ZSTD_e_continue, err);
    default: return len ? c->out(c->userdata, data, len, err) : 0;
    }
}

int kiln_oci_compressor_finish(struct kiln_oci_compressor *c, struct kiln_error **err)
{
    switch (c->kind) {
    case KILN_OCI_COMPRESSION_GZIP: return gz_finish(c, err);
    case KILN_OCI_COMPRESSION_ZSTD: return zstd_run(c, NULL, 0, ZSTD_e_end, err);
    default: return 0;
    }
}

void kiln_oci_compressor_free(struct kiln_oci_compressor *c)
{
    if (!c)
        return;
    if (c->kind == KILN_OCI_COMPRESSION_GZIP) {
        gz_stop(&c->gz);
        for (unsigned i = 0; i < GZ_SLOTS; i++) {
            free(c->gz.jobs[i].in);
            free(c->gz.jobs[i].out);
            libdeflate_free_compressor(c->gz.jobs[i].z);
        }
        pthread_mutex_destroy(&c->gz.lock);
        pthread_cond_destroy(&c->gz.cond);
    }
    ZSTD_freeCCtx(c->zstd);
    free(c->zbuf);
    free(c);
}

/* ---- decompression ---- */

struct kiln_oci_decompressor {
    enum kiln_oci_compression kind;
    kiln_oci_read_fn in;
    void *userdata;
    unsigned char *buf; /* compressed input: buf[pos .. len) not consumed yet */
    size_t pos, len;
    bool eof;       /* in() reported the end */
    bool frame_end; /* gzip member / zstd frame complete at the last read */
    z_stream z;
    bool z_init;
    ZSTD_DCtx *zd;
};

/* Refills the input buffer when it is empty. Returns 1 with data, 0 at the end. */
static int d_fill(struct kiln_oci_decompressor *d, struct kiln_error **err)
{
    if (d->pos < d->len)
        return 1;
    if (d->eof)
        return 0;
    ssize_t n = d->in(d->userdata, d->buf, IO_CHUNK, err);
    if (n < 0)
        return (int)n;
    d->pos = 0;
    d->len = (size_t)n;
    d->eof = n == 0;
    return n > 0;
}

int kiln_oci_decompressor_new(kiln_oci_read_fn in, void *userdata,
                              struct kiln_oci_decompressor **ret, struct kiln_error **err)
{
    static const unsigned char gz_magic[] = {0x1f, 0x8b}, zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
    _cleanup_(kiln_oci_decompressor_freep) struct kiln_oci_decompressor *d =
            kiln_xcalloc(1, sizeof(*d));
    d->in = in;
    d->userdata = userdata;
    d->buf = kiln_xmalloc(IO_CHUNK);
    while (d->len < sizeof(zstd_magic) && !d->eof) {
        ssize_t n = in(userdata, d->buf + d->len, IO_CHUNK - d->len, err);
        if (n < 0)
            return (int)n;
        d->len += (size_t)n;
        d->eof = n == 0;
    }
    if (d->len >= 2 && memcmp(d->buf, gz_magic, 2) == 0) {
        d->kind = KILN_OCI_COMPRESSION_GZIP;
        if (inflateInit2(&d->z, 16 + 15) != Z_OK)
            return kiln_error_set(err, -ENOMEM, "gzip: cannot start inflating");
        d->z_init = true;
    } else if (d->len >= 4 && memcmp(d->buf, zstd_magic, 4) == 0) {
        d->kind = KILN_OCI_COMPRESSION_ZSTD;
        d->zd = ZSTD_createDCtx();
        if (!d->zd ||
            ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG)))
            return kiln_error_set(err, -ENOMEM, "zstd: cannot create a context");
    }
    *ret = TAKE_PTR(d);
    return 0;
}

enum kiln_oci_compression kiln_oci_decompressor_kind(const struct kiln_oci_decompressor *d)
{
    return d->kind;
}

static ssize_t gz_read(struct kiln_oci_decompressor *d, void *buf, size_t len,
                       struct kiln_error **err)
{
    for (;;) {
        int r = d_fill(d, err);
        if (r < 0)
            return r;
        if (r == 0)
            return d->frame_end ? 0 : kiln_error_set(err, KILN_E_INVALID, "truncated gzip stream");
        if (d->frame_end) {
            /* Another member follows (as gzip -d and Go's reader accept). */
            if (inflateReset(&d->z) != Z_OK)
                return kiln_error_set(err, -EIO, "gzip: cannot reset");
            d->frame_end = false;
        }
        d->z.next_in = d->buf + d->pos;
        d->z.avail_in = (uInt)(d->len - d->pos);
        d->z.next_out = buf;
        d->z.avail_out = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
        int zr = inflate(&d->z, Z_NO_FLUSH);
        d->pos = d->len - d->z.avail_in;
        size_t got = (size_t)((unsigned char *)d->z.next_out - (unsigned char *)buf);
        if (zr == Z_STREAM_END)
            d->frame_end = true;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return kiln_error_set(err, KILN_E_INVALID, "corrupt gzip stream: %s",
                                  d->z.msg ? d->z.msg : "inflate failed");
        if (got > 0)
            return (ssize_t)got;
    }
}

static ssize_t zstd_read(struct kiln_oci_decompressor *d, void *buf, size_t len,
                         struct kiln_error **err)
{
    for (;;) {
        int r = d_fill(d, err);
        if (r < 0)
            return r;
        if (r == 0 && d->frame_end)
            return 0;
        ZSTD_inBuffer in = {d->buf + d->pos, d->len - d->pos, 0};
        ZSTD_outBuffer out = {buf, len, 0};
        size_t left = ZSTD_decompressStream(d->zd, &out, &in);
        d->pos += in.pos;
        if (ZSTD_isError(left))
            return kiln_error_set(err, KILN_E_INVALID, "corrupt zstd stream: %s",
                                  ZSTD_getErrorName(left));
        d->frame_end = left == 0;
        if (out.pos > 0)
            return (ssize_t)out.pos;
        if (r == 0)
            return kiln_error_set(err, KILN_E_INVALID, "truncated zstd stream");
    }
}

ssize_t kiln_oci_decompressor_read(struct kiln_oci_decompressor *d, void *buf, size_t len,
                                   struct kiln_error **err)
{
    if (len == 0)
        return 0;
    if (d->kind == KILN_OCI_COMPRESSION_GZIP)
        return gz_read(d, buf, len, err);
    if (d->kind == KILN_OCI_COMPRESSION_ZSTD)
        return zstd_read(d, buf, len, err);
    int r = d_fill(d, err);
    if (r <= 0)
        return r;
    size_t n = d->len - d->pos < len ? d->len - d->pos : len;
    memcpy(buf, d->buf + d->pos, n);
    d->pos += n;
    return (ssize_t)n;
}

void kiln_oci_decompressor_free(struct kiln_oci_decompressor *d)
{
    if (!d)
        return;
    if (d->z_init)
        inflateEnd(&d->z);
    ZSTD_freeDCtx(d->zd);
    free(d->buf);
    free(d);
}
