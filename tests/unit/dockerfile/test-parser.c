/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-parser.c - layer-1 behaviour beyond BuildKit's golden files: line
 * endings, directives, limits, heredoc bodies and line spans, errors.
 */
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "dockerfile/parser.h"

struct parsed {
    struct kiln_df_ast *ast;
    struct kiln_error *err;
    int r;
    struct kiln_buf dump;
};

static struct parsed parse_n(const char *text, size_t n)
{
    struct parsed p = {.dump = KILN_BUF_INIT((size_t)1 << 30)};
    p.r = kiln_df_parse(text, n, &p.ast, &p.err);
    if (p.r >= 0)
        assert_int_equal(kiln_df_dump(p.ast, &p.dump), 0);
    return p;
}

static struct parsed parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void release(struct parsed *p)
{
    kiln_df_ast_free(p->ast);
    kiln_error_free(p->err);
    kiln_buf_release(&p->dump);
}

static void expect_dump(const char *text, const char *dump)
{
    struct parsed p = parse(text);
    if (p.r < 0)
        fail_msg("parse of [%s] failed: %s", text, kiln_error_message(p.err, p.r));
    assert_string_equal(p.dump.buf, dump);
    release(&p);
}

static void expect_error(const char *text, unsigned line, const char *needle)
{
    struct parsed p = parse(text);
    if (p.r >= 0)
        fail_msg("[%s] parsed, want an error containing '%s'", text, needle);
    if (!strstr(p.err->message, needle))
        fail_msg("error '%s' lacks '%s'", p.err->message, needle);
    assert_int_equal(p.err->line, line);
    release(&p);
}

static void test_parser__crlf_and_bom(void **state)
{
    expect_dump("\xEF\xBB\xBF"
                "FROM a\r\nRUN b \\\r\n  c\r\n",
                "(from \"a\")\n(run \"b   c\")\n");
}

static void test_parser__keyword_case_is_folded(void **state)
{
    expect_dump("fRoM a\nRun x\nunknown y z\n", "(from \"a\")\n(run \"x\")\n(unknown \"\")\n");
}

static void test_parser__escape_directive_changes_continuation(void **state)
{
    expect_dump("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo\n",
                "(from \"a\")\n(run \"dir c:\\\\   && echo\")\n");
}

static void test_parser__directive_errors(void **state)
{
    expect_error("# escape=x\nFROM a\n", 1, "invalid escape token 'x'");
    expect_error("# escape=\\\n# escape=`\nFROM a\n", 2, "only one escape parser directive");
}

static void test_parser__directives_end_at_first_other_line(void **state)
{
    struct parsed p =
            parse("# syntax=docker/dockerfile:1\n# check=skip=all\n\n# escape=`\nFROM a\n");
    assert_int_equal(p.r, 0);
    assert_string_equal(kiln_df_ast_directive(p.ast, "syntax"), "docker/dockerfile:1");
    assert_string_equal(kiln_df_ast_directive(p.ast, "check"), "skip=all");
    assert_null(kiln_df_ast_directive(p.ast, "escape"));
    assert_int_equal(p.ast->escape, '\\');
    release(&p);
}

static void test_parser__flags_are_unquoted(void **state)
{
    expect_dump("COPY --chown=\"a b\" --from='x' -- --not-a-flag /d\n",
                "(copy [\"--chown=a b\" \"--from=x\"] \"--not-a-flag\" \"/d\")\n");
}

static void test_parser__heredoc_bodies_and_lines(void **state)
{
    const char *df = "FROM a\n"
                     "RUN <<EOF\n"
                     "echo $X\n"
                     "EOF\n"
                     "COPY <<-'A' <<B /dst/\n"
                     "\tone\n"
                     "\tA\n"
                     "two\n"
                     "B\n"
                     "ENV X=1\n";
    struct parsed p = parse(df);
    assert_int_equal(p.r, 0);
    assert_int_equal(p.ast->n_nodes, 4);
    struct kiln_df_node *run = p.ast->nodes[1], *copy = p.ast->nodes[2];
    assert_int_equal(run->n_heredocs, 1);
    assert_string_equal(run->heredocs[0].content, "echo $X\n");
    assert_true(run->heredocs[0].expand);
    assert_int_equal(run->start_line, 2);
    assert_int_equal(run->end_line, 4);
    assert_int_equal(copy->n_heredocs, 2);
    assert_string_equal(copy->heredocs[0].name, "A");
    assert_false(copy->heredocs[0].expand);
    assert_true(copy->heredocs[0].chomp);
    assert_string_equal(copy->heredocs[0].content, "\tone\n");
    assert_string_equal(copy->heredocs[1].content, "two\n");
    assert_int_equal(copy->end_line, 9);
    assert_int_equal(p.ast->nodes[3]->start_line, 10);
    release(&p);
}

static void test_parser__heredoc_in_onbuild(void **state)
{
    struct parsed p = parse("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n");
    assert_int_equal(p.r, 0);
    assert_string_equal(p.dump.buf, "(from \"a\")\n(onbuild (run \"<<EOF\"))\n");
    assert_int_equal(p.ast->nodes[1]->n_heredocs, 1);
    release(&p);
}

static void test_parser__exec_form_has_no_heredoc(void **state)
{
    struct parsed p = parse("FROM a\nRUN [\"cat\", \"<<EOF\"]\nEOF\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.ast->nodes[1]->n_heredocs, 0);
    assert_int_equal(p.ast->n_nodes, 3);
    release(&p);
}

static void test_parser__errors_carry_lines(void **state)
{
    expect_error("FROM a\n\nRUN <<EOF\nx\n", 3, "unterminated heredoc");
    expect_error("FROM a\nENV A\n", 2, "ENV must have two arguments");
    expect_error("FROM a\nLABEL a=b c\n", 2, "can't find = in \"c\"");
    expect_error("FROM a\nCMD [\"a\", true]\n", 2, "strings only");
    expect_error("\n# just a comment\n", 2, "file with no instructions");
    expect_error("", 1, "file with no instructions");
}

static void test_parser__nul_byte_is_refused(void **state)
{
    struct parsed p = parse_n("FROM a\nRUN \0x\n", 13);
    assert_int_equal(p.r, KILN_E_INVALID);
    assert_int_equal(p.err->line, 2);
    assert_non_null(strstr(p.err->message, "binary"));
    release(&p);
}

static void test_parser__size_limit(void **state)
{
    size_t n = KILN_DOCKERFILE_MAX + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    struct parsed p = parse_n(big, n);
    assert_int_equal(p.r, KILN_E_LIMIT);
    release(&p);
    free(big);
}

static void test_parser__onbuild_nesting_limit(void **state)
{
    struct kiln_buf text = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_buf_adds(&text, "FROM a\n"), 0);
    for (unsigned i = 0; i < KILN_DOCKERFILE_NEST_MAX + 2; i++)
        assert_int_equal(kiln_buf_adds(&text, "ONBUILD "), 0);
    assert_int_equal(kiln_buf_adds(&text, "RUN x\n"), 0);
    struct parsed p = parse(text.buf);
    kiln_buf_release(&text);
    assert_int_equal(p.r, KILN_E_LIMIT);
    assert_int_equal(p.err->line, 2);
    release(&p);
    expect_dump("ONBUILD ONBUILD RUN x\n", "(onbuild (onbuild (run \"x\")))\n");
}

static void test_parser__json_nul_element_dumps_escaped(void **state)
{
    expect_dump("CMD [\"a\\u0000b\", \"c\"]\n", "(cmd \"a\\x00b\" \"c\")\n");
}

static void test_parser__go_quoting(void **state)
{
    expect_dump("LABEL a=\"\xe2\x99\xa5\" b=\xe2\x80\x8b c=\xff\n",
                "(label \"a\" \"\\\"\xe2\x99\xa5\\\"\" \"=\" \"b\" \"\\u200b\" \"=\" \"c\" "
                "\"\xef\xbf\xbd\" \"=\")\n");
    expect_dump("RUN a\tb\x7f\n", "(run \"a\\tb\\x7f\")\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parser__crlf_and_bom),
            cmocka_unit_test(test_parser__keyword_case_is_folded),
            cmocka_unit_test(test_parser__escape_directive_changes_continuation),
            cmocka_unit_test(test_parser__directive_errors),
            cmocka_unit_test(test_parser__directives_end_at_first_other_line),
            cmocka_unit_test(test_parser__flags_are_unquoted),
            cmocka_unit_test(test_parser__heredoc_bodies_and_lines),
            cmocka_unit_test(test_parser__heredoc_in_onbuild),
            cmocka_unit_test(test_parser__exec_form_has_no_heredoc),
            cmocka_unit_test(test_parser__errors_carry_lines),
            cmocka_unit_test(test_parser__nul_byte_is_refused),
            cmocka_unit_test(test_parser__size_limit),
            cmocka_unit_test(test_parser__onbuild_nesting_limit),
            cmocka_unit_test(test_parser__json_nul_element_dumps_escaped),
            cmocka_unit_test(test_parser__go_quoting),
    };
    return cmocka_run_group_tests_name("dockerfile/parser", tests, NULL, NULL);
}
