/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse-throughput.c - parser speed on a generated Dockerfile.
 *
 * usage: parse-throughput [MEGABYTES] [ROUNDS]   (default 10 MB, 5 rounds)
 * Builds a Dockerfile of realistic instructions (RUN with continuations,
 * COPY with flags, ENV pairs, JSON CMDs, heredocs) in memory, parses it
 * ROUNDS times and prints MB/s for the parse alone and for parse + dump.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/alloc.h"
#include "dockerfile/parser.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void generate(struct kiln_buf *b, size_t size)
{
    (void)kiln_buf_adds(b, "# syntax=docker/dockerfile:1\nARG BASE=debian:12\n");
    for (unsigned i = 0; b->len < size; i++) {
        (void)kiln_buf_addf(
                b,
                "FROM ${BASE} AS stage%u\n"
                "ENV PATH=/opt/app%u/bin:$PATH LANG=C.UTF-8 HOME=\"/home/app %u\"\n"
                "RUN --mount=type=cache,target=/var/cache/apt apt-get update && \\\n"
                "    apt-get install -y --no-install-recommends ca-certificates curl && \\\n"
                "    # a comment inside the continuation\n"
                "    rm -rf /var/lib/apt/lists/*\n"
                "COPY --chown=app:app --chmod=0644 src/%u/ /srv/app/\n"
                "COPY <<EOF /etc/app%u.conf\nlisten 0.0.0.0:%u\nworkers 4\nEOF\n"
                "LABEL org.opencontainers.image.title=\"app %u\" version=%u\n"
                "HEALTHCHECK --interval=30s CMD [\"/bin/check\", \"--port\", \"%u\"]\n"
                "CMD [\"/srv/app/bin/run\", \"--config\", \"/etc/app%u.conf\"]\n\n",
                i, i, i, i, i, 8000 + i % 1000, i, i, i, i);
    }
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 10;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    struct kiln_buf text = KILN_BUF_INIT((mb + 1) << 20);
    generate(&text, mb << 20);
    double parse_s = 1e9, dump_s = 1e9;
    size_t nodes = 0;
    for (int i = 0; i < rounds; i++) {
        struct kiln_df_ast *ast = NULL;
        struct kiln_error *e = NULL;
        double t0 = now();
        if (kiln_df_parse(text.buf, text.len, &ast, &e) < 0) {
            fprintf(stderr, "parse failed: line %u: %s\n", e->line, e->message);
            return 1;
        }
        double t1 = now();
        struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 32);
        (void)kiln_df_dump(ast, &out);
        double t2 = now();
        nodes = ast->n_nodes;
        parse_s = t1 - t0 < parse_s ? t1 - t0 : parse_s;
        dump_s = t2 - t0 < dump_s ? t2 - t0 : dump_s;
        kiln_buf_release(&out);
        kiln_df_ast_free(ast);
    }
    double size_mb = (double)text.len / 1e6;
    printf("input: %.1f MB, %zu instructions; best of %d rounds\n", size_mb, nodes, rounds);
    printf("parse:        %.3f s  %.0f MB/s\n", parse_s, size_mb / parse_s);
    printf("parse + dump: %.3f s  %.0f MB/s\n", dump_s, size_mb / dump_s);
    kiln_buf_release(&text);
    return 0;
}
