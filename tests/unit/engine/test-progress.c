/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/progress-private.h"

#include "base/banned.h"

#define MS    INT64_C(1000000)
#define EPOCH INT64_C(1704067200000000000) /* 2024-01-01T00:00:00Z */

/* A printer into memory whose clock the test sets. */
struct fixture {
    char *text;
    size_t len;
    FILE *f;
    int64_t now;
    struct kiln_progress *p;
};

static int64_t fixed(void *userdata)
{
    return ((struct fixture *)userdata)->now;
}

static void open_printer(struct fixture *x, enum kiln_progress_mode mode)
{
    memset(x, 0, sizeof(*x));
    x->f = open_memstream(&x->text, &x->len);
    x->now = EPOCH;
    x->p = kiln_progress_new(mode, x->f);
    kiln_progress_set_clock(x->p, fixed, x);
}

/* Frees the printer (its last words included) and returns everything it wrote. */
static char *close_printer(struct fixture *x)
{
    kiln_progress_free(x->p);
    fclose(x->f);
    return x->text;
}

static void at(struct fixture *x, int64_t ms)
{
    x->now = EPOCH + ms * MS;
}

static void test_progress__plain_blocks_as_buildkit(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "v1", "[internal] load build definition from Dockerfile");
    at(&x, 10);
    kiln_progress_status(x.p, "v1", "transferring dockerfile:", 169, 0, true);
    at(&x, 40);
    kiln_progress_done(x.p, "v1");
    kiln_progress_cached(x.p, "v2", "[2/3] WORKDIR /app");
    at(&x, 1000);
    kiln_progress_start(x.p, "v3", "[3/3] RUN make");
    at(&x, 1215);
    kiln_progress_log(x.p, "v3", 1, "compiling...\n", 13);
    at(&x, 13500);
    kiln_progress_log(x.p, "v3", 2, "linking\n", 8);
    kiln_progress_done(x.p, "v3");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(out, "#1 [internal] load build definition from Dockerfile\n"
                             "#1 transferring dockerfile: 169B done\n"
                             "#1 DONE 0.0s\n"
                             "\n"
                             "#2 [2/3] WORKDIR /app\n"
                             "#2 CACHED\n"
                             "\n"
                             "#3 [3/3] RUN make\n"
                             "#3 0.215 compiling...\n"
                             "#3 12.50 linking\n"
                             "#3 DONE 12.5s\n");
}

static void test_progress__plain_switch_prints_ellipsis(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "[1/2] RUN a");
    kiln_progress_start(x.p, "b", "[2/2] RUN b");
    at(&x, 120);
    kiln_progress_log(x.p, "a", 1, "one\n", 4);
    at(&x, 400);
    kiln_progress_done(x.p, "b");
    at(&x, 1000);
    kiln_progress_done(x.p, "a");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(out, "#1 [1/2] RUN a\n"
                             "#1 ...\n"
                             "\n"
                             "#2 [2/2] RUN b\n"
                             "#2 ...\n"
                             "\n"
                             "#1 [1/2] RUN a\n"
                             "#1 0.120 one\n"
                             "#1 ...\n"
                             "\n"
                             "#2 [2/2] RUN b\n"
                             "#2 DONE 0.4s\n"
                             "\n"
                             "#1 [1/2] RUN a\n"
                             "#1 DONE 1.0s\n");
}

static void test_progress__plain_partial_lines_go_on(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "RUN a");
    at(&x, 100);
    kiln_progress_log(x.p, "a", 1, "abc", 3);
    at(&x, 200);
    kiln_progress_log(x.p, "a", 1, "def\nghi", 7);
    kiln_progress_start(x.p, "b", "RUN b");
    at(&x, 300);
    kiln_progress_log(x.p, "a", 1, "jkl\n", 4);
    kiln_progress_done(x.p, "a");
    kiln_progress_done(x.p, "b");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(out, "#1 RUN a\n"
                             "#1 0.100 abcdef\n"
                             "#1 0.200 ghi\n"
                             "#1 ...\n"
                             "\n"
                             "#2 RUN b\n"
                             "#2 ...\n"
                             "\n"
                             "#1 RUN a\n"
                             "#1 0.200 ghijkl\n"
                             "#1 DONE 0.3s\n"
                             "\n"
                             "#2 RUN b\n"
                             "#2 DONE 0.1s\n");
}

static void test_progress__plain_error_repeats_last_logs(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "[2/2] RUN make");
    char line[32];
    for (int i = 1; i <= 12; i++) {
        at(&x, i * 100);
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        kiln_progress_log(x.p, "a", 2, line, (size_t)n);
    }
    kiln_progress_error(x.p, "a",
                        "process \"/bin/sh -c make\" did not complete successfully: exit code: 2");
    kiln_progress_canceled(x.p, "b");
    _cleanup_free_ char *out = close_printer(&x);
    const char *tail = strstr(out, "#1 0.800 line 8\n");
    assert_non_null(tail);
    assert_string_equal(
            strstr(out, "#1 1.200 line 12\n"),
            "#1 1.200 line 12\n"
            "#1 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2\n"
            "\n"
            "#2 b\n"
            "#2 CANCELED\n"
            "------\n"
            " > [2/2] RUN make:\n"
            "0.300 line 3\n0.400 line 4\n0.500 line 5\n0.600 line 6\n0.700 line 7\n"
            "0.800 line 8\n0.900 line 9\n1.000 line 10\n1.100 line 11\n1.200 line 12\n"
            "------\n");
}

static void test_progress__plain_status_sizes_and_rate(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "[1/1] FROM docker.io/library/alpine:3.19");
    const char *id = "sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8";
    kiln_progress_status(x.p, "a", id, 0, 4190000, false);
    at(&x, 500);
    kiln_progress_status(x.p, "a", id, 100000, 4190000, false); /* under 5%: skipped */
    at(&x, 1000);
    kiln_progress_status(x.p, "a", id, 2310000, 4190000, false);
    at(&x, 7000);
    kiln_progress_status(x.p, "a", id, 2400000, 4190000, false); /* 6 s later */
    at(&x, 8100);
    kiln_progress_status(x.p, "a", id, 4190000, 4190000, true);
    kiln_progress_status(x.p, "a", "extracting", 0, 0, true);
    kiln_progress_done(x.p, "a");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(
            out, "#1 [1/1] FROM docker.io/library/alpine:3.19\n"
                 "#1 sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8 0B / "
                 "4.19MB\n"
                 "#1 sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8 "
                 "2.31MB / 4.19MB 1.0s\n"
                 "#1 sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8 "
                 "2.40MB / 4.19MB 7.0s\n"
                 "#1 sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8 "
                 "4.19MB / 4.19MB 8.1s done\n"
                 "#1 extracting done\n"
                 "#1 DONE 8.1s\n");
}

static void test_progress__bytes_as_go_units(void **state)
{
    static const struct {
        uint64_t n;
        const char *want;
    } cases[] = {
            {0, "0B"},
            {999, "999B"},
            {1000, "1.00kB"},
            {1234, "1.23kB"},
            {2310000, "2.31MB"},
            {999999, "1000.00kB"},
            {1500000000, "1.50GB"},
            {UINT64_C(7) << 50, "7.88PB"},
    };
    char got[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        kiln_progress_bytes(cases[i].n, got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%" PRIu64 ": got '%s', want '%s'", cases[i].n, got, cases[i].want);
    }
}

static void test_progress__plain_warnings_and_summary(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "[internal] load build definition from Dockerfile");
    kiln_progress_warn(x.p, "a",
                       "JSONArgsRecommended: JSON arguments recommended for CMD (line 3)");
    kiln_progress_done(x.p, "a");
    kiln_progress_warn(x.p, NULL, "No output specified with docker-container driver");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(
            out, "#1 [internal] load build definition from Dockerfile\n"
                 "#1 WARN: JSONArgsRecommended: JSON arguments recommended for CMD (line 3)\n"
                 "#1 DONE 0.0s\n"
                 "\n"
                 " 2 warnings found:\n"
                 " - JSONArgsRecommended: JSON arguments recommended for CMD (line 3)\n"
                 " - No output specified with docker-container driver\n");
}

static void test_progress__plain_breaks_endless_lines(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    kiln_progress_start(x.p, "a", "RUN yes");
    size_t n = 3 * KILN_PROGRESS_LINE_MAX;
    char *big = malloc(n);
    memset(big, 'y', n);
    kiln_progress_log(x.p, "a", 1, big, n);
    free(big);
    kiln_progress_done(x.p, "a");
    _cleanup_free_ char *out = close_printer(&x);
    size_t lines = 0, longest = 0, cur = 0;
    for (const char *c = out; *c; c++) {
        if (*c == '\n') {
            lines++;
            longest = cur > longest ? cur : longest;
            cur = 0;
        } else {
            cur++;
        }
    }
    if (longest > KILN_PROGRESS_LINE_MAX + 16 || lines < 5)
        fail_msg("longest line %zu bytes in %zu lines", longest, lines);
}

static void test_progress__rawjson_is_solve_status(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_RAWJSON);
    at(&x, 500);
    kiln_progress_start(x.p, "sha256:aa", "[1/2] RUN echo \"<hi>\"");
    at(&x, 750);
    kiln_progress_log(x.p, "sha256:aa", 1, "hi\n", 3);
    kiln_progress_status(x.p, "sha256:aa", "extracting", 5, 10, false);
    at(&x, 1000);
    kiln_progress_done(x.p, "sha256:aa");
    kiln_progress_cached(x.p, "sha256:bb", "[2/2] WORKDIR /");
    kiln_progress_warn(x.p, "sha256:bb", "w");
    kiln_progress_error(x.p, "sha256:cc", "boom");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(
            out,
            "{\"vertexes\":[{\"digest\":\"sha256:aa\",\"name\":\"[1/2] RUN echo "
            "\\\"\\u003chi\\u003e\\\"\","
            "\"started\":\"2024-01-01T00:00:00.5Z\"}]}\n"
            "{\"logs\":[{\"vertex\":\"sha256:aa\",\"stream\":1,\"data\":\"aGkK\","
            "\"timestamp\":\"2024-01-01T00:00:00.75Z\"}]}\n"
            "{\"statuses\":[{\"id\":\"extracting\",\"vertex\":\"sha256:aa\",\"total\":10,"
            "\"current\":5,"
            "\"timestamp\":\"2024-01-01T00:00:00.75Z\",\"started\":\"2024-01-01T00:00:00.75Z\"}]}\n"
            "{\"vertexes\":[{\"digest\":\"sha256:aa\",\"name\":\"[1/2] RUN echo "
            "\\\"\\u003chi\\u003e\\\"\","
            "\"started\":\"2024-01-01T00:00:00.5Z\",\"completed\":\"2024-01-01T00:00:01Z\"}]}\n"
            "{\"vertexes\":[{\"digest\":\"sha256:bb\",\"name\":\"[2/2] WORKDIR /\","
            "\"started\":\"2024-01-01T00:00:01Z\",\"completed\":\"2024-01-01T00:00:01Z\","
            "\"cached\":true}]}\n"
            "{\"warnings\":[{\"vertex\":\"sha256:bb\",\"level\":1,\"short\":\"dw==\"}]}\n"
            "{\"vertexes\":[{\"digest\":\"sha256:cc\",\"name\":\"sha256:cc\","
            "\"started\":\"2024-01-01T00:00:01Z\",\"completed\":\"2024-01-01T00:00:01Z\",\"error\":"
            "\"boom\"}]}\n");
}

static void test_progress__tty_live_view(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_TTY);
    kiln_progress_tty_set_size(x.p, 60, 20);
    kiln_progress_cached(x.p, "a", "[1/2] FROM docker.io/library/alpine");
    kiln_progress_start(x.p, "b", "[2/2] RUN make");
    at(&x, 1500);
    kiln_progress_log(x.p, "b", 1, "compiling x.c\n", 14);
    kiln_progress_tty_redraw(x.p);
    fflush(x.f);
    const char *frame = NULL; /* the last one */
    for (const char *c = x.text; (c = strstr(c, "[+] Building")); c++)
        frame = c;
    assert_non_null(frame);
    const char *want =
            "[+] Building 1.5s (1/2)                                     \n"
            "\x1b[34m => CACHED [1/2] FROM docker.io/library/alpine         0.0s\x1b[0m\n"
            " => [2/2] RUN make                                     1.5s\n"
            "\x1b[2m => => # compiling x.c\x1b[0m\n";
    if (!strstr(frame, want))
        fail_msg("frame: %s", frame);
    at(&x, 2000);
    kiln_progress_done(x.p, "b");
    _cleanup_free_ char *out = close_printer(&x);
    const char *last = strstr(out, "[+] Building 2.0s (2/2) FINISHED");
    assert_non_null(last);
    assert_non_null(strstr(
            last, "\x1b[34m => [2/2] RUN make                                     2.0s\x1b[0m\n"));
    assert_null(strstr(last, "compiling")); /* the last frame has no log tail */
}

static void test_progress__quiet_prints_nothing(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_QUIET);
    kiln_progress_start(x.p, "a", "RUN a");
    kiln_progress_log(x.p, "a", 1, "x\n", 2);
    kiln_progress_error(x.p, "a", "boom");
    _cleanup_free_ char *out = close_printer(&x);
    assert_string_equal(out, "");
}

static void test_progress__mode_parse(void **state)
{
    enum kiln_progress_mode m;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_progress_mode_parse("rawjson", &m, &e), 0);
    assert_int_equal(m, KILN_PROGRESS_RAWJSON);
    assert_int_equal(kiln_progress_mode_parse("fancy", &m, &e), KILN_E_INVALID);
    assert_string_equal(e->message,
                        "invalid progress mode 'fancy': use auto, plain, tty, quiet or rawjson");
    kiln_error_free(e);
}

struct writer {
    struct kiln_progress *p;
    char id[16];
};

static void *write_logs(void *arg)
{
    struct writer *w = arg;
    kiln_progress_start(w->p, w->id, w->id);
    for (int i = 0; i < 500; i++)
        kiln_progress_log(w->p, w->id, 1, "0123456789\n", 11);
    kiln_progress_done(w->p, w->id);
    return NULL;
}

/* Four threads at once: every line whole, none lost. */
static void test_progress__threads_keep_lines_whole(void **state)
{
    struct fixture x;
    open_printer(&x, KILN_PROGRESS_PLAIN);
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i].p = x.p;
        snprintf(w[i].id, sizeof(w[i].id), "w%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, write_logs, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    _cleanup_free_ char *out = close_printer(&x);
    size_t logs = 0;
    for (const char *c = out; (c = strstr(c, " 0.000 0123456789\n")); c++)
        logs++;
    assert_int_equal(logs, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_progress__plain_blocks_as_buildkit),
            cmocka_unit_test(test_progress__plain_switch_prints_ellipsis),
            cmocka_unit_test(test_progress__plain_partial_lines_go_on),
            cmocka_unit_test(test_progress__plain_error_repeats_last_logs),
            cmocka_unit_test(test_progress__plain_status_sizes_and_rate),
            cmocka_unit_test(test_progress__bytes_as_go_units),
            cmocka_unit_test(test_progress__plain_warnings_and_summary),
            cmocka_unit_test(test_progress__plain_breaks_endless_lines),
            cmocka_unit_test(test_progress__rawjson_is_solve_status),
            cmocka_unit_test(test_progress__tty_live_view),
            cmocka_unit_test(test_progress__quiet_prints_nothing),
            cmocka_unit_test(test_progress__mode_parse),
            cmocka_unit_test(test_progress__threads_keep_lines_whole),
    };
    return cmocka_run_group_tests_name("engine/progress", tests, NULL, NULL);
}
