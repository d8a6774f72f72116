/* SPDX-License-Identifier: Apache-2.0 */
/*
 * banned.h - functions that must not be used in kiln. Include it last.
 *
 * Each of these either overflows silently (strcpy, sprintf, ...), keeps hidden
 * state (strtok, gmtime), or runs a shell (system, popen). Including this header
 * turns any use into a compile error that names the function.
 */
#pragma once

#define BANNED(func) sorry_##func##_is_banned_in_kiln

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef mktemp
#define mktemp(x) BANNED(mktemp)
#undef system
#define system(x) BANNED(system)
#undef popen
#define popen(x, y) BANNED(popen)
