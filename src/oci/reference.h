/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reference.h - image references ("alpine:3.20", "ghcr.io/acme/app@sha256:...")
 * exactly as distribution/reference (v0.6) parses and prints them, which is
 * what docker, buildx and BuildKit use.
 *
 *   NAME[:TAG][@DIGEST]    NAME = [DOMAIN/]PATH
 *   DOMAIN  host name ("a.b-c.com"), IPv4, or [IPv6], with an optional :port
 *   PATH    components [a-z0-9]+ joined by '.', '_', '__' or dashes; '/' between
 *   TAG     [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 */
#pragma once

#include <stdbool.h>

#include "base/cleanup.h"
#include "base/error.h"

struct kiln_oci_ref {
    char *domain; /* "docker.io", "localhost:5000"; NULL when the name has none */
    char *path;   /* "library/alpine" */
    char *tag;    /* NULL when none */
    char *digest; /* NULL when none */
};

/* A repository path may have at most this many characters (the domain is not counted). */
#define KILN_OCI_REF_PATH_MAX 255

/*
 * reference.ParseNormalizedNamed: what `docker pull NAME` and a Dockerfile's
 * FROM accept. A first component with '.' or ':', "localhost", or an upper
 * case letter is the domain; otherwise the domain is docker.io, and a name
 * of one component there gets "library/". "index.docker.io" becomes
 * "docker.io". *ret is the caller's (kiln_oci_ref_free). KILN_E_INVALID with
 * the grammar's message and what part broke it ("invalid reference format:
 * repository name (library/Foo) must be lowercase").
 */
int kiln_oci_ref_parse_normalized(const char *s, struct kiln_oci_ref **ret,
                                  struct kiln_error **err);

/*
 * reference.Parse: the grammar alone, no default domain ("alpine" has no
 * domain, "a/b" has domain "a"). Same errors as above.
 */
int kiln_oci_ref_parse(const char *s, struct kiln_oci_ref **ret, struct kiln_error **err);

/* reference.TagNameOnly: a reference with neither tag nor digest gets tag "latest". */
void kiln_oci_ref_tag_name_only(struct kiln_oci_ref *r);

/*
 * The name ("docker.io/library/alpine"), or with `familiar` the short form
 * docker prints ("alpine": no docker.io, no "library/" for one component).
 * Caller frees.
 */
char *kiln_oci_ref_name(const struct kiln_oci_ref *r, bool familiar);

/* The whole reference, NAME[:TAG][@DIGEST], full or familiar. Caller frees. */
char *kiln_oci_ref_string(const struct kiln_oci_ref *r, bool familiar);

/*
 * Does a registry at `domain` ("host[:port]") speak plain HTTP unless told
 * otherwise? As BuildKit decides with containerd's MatchLocalhost (and docker
 * with its default insecure ranges): "localhost", 127.0.0.0/8 and ::1, with
 * any port. Names are not resolved.
 */
bool kiln_oci_ref_plain_http(const char *domain);

/* Frees r; NULL is fine. */
void kiln_oci_ref_free(struct kiln_oci_ref *r);
KILN_DEFINE_CLEANUP(struct kiln_oci_ref, kiln_oci_ref_free)
