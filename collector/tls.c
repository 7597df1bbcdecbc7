/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Certificates for libmicrohttpd + GnuTLS, and the client-certificate check
 * libmicrohttpd leaves to us (docs/events.md 5.1): with
 * MHD_OPTION_HTTPS_MEM_TRUST it only *requests* a certificate, so every
 * request is refused here unless the peer sent one that chains to the town
 * CA, is valid now and is meant for TLS client authentication.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

#define PEM_MAX (1024u * 1024u)
#define KEY_MAX (64u * 1024u)

__attribute__((format(printf, 3, 4))) static int
diag(struct coll_diag *d, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return r;
}

static int
read_pem(const char *path, size_t max, char **ret, size_t *ret_len,
    struct coll_diag *d)
{
	int r = coll_file_read(path, max, ret, ret_len);

	if (r == -EPERM)
		return diag(d, r,
		    "%s: not trusted (absolute path, regular "
		    "file, no symlink, owned by root or us, not writable by "
		    "group or other)",
		    path);
	if (r < 0)
		return diag(d, r, "%s: cannot read: %s", path, strerror(-r));
	return 0;
}

/* The server certificate and key: they match, and the certificate is
 * valid now. */
static int
check_pair(
    const struct coll_tls *t, const struct coll_config *c, struct coll_diag *d)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t cd = { (unsigned char *)t->cert,
		(unsigned)strlen(t->cert) };
	gnutls_datum_t kd = { (unsigned char *)t->key, (unsigned)t->key_len };
	time_t now = time(NULL);
	int g, r = 0;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -ENOMEM;
	g = gnutls_certificate_set_x509_key_mem2(
	    cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		r = diag(d, -EINVAL, "%s, %s: %s", c->certificate, c->key,
		    gnutls_strerror(g));
		goto out;
	}
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM) < 0) {
		r = diag(
		    d, -EINVAL, "%s: not a PEM certificate", c->certificate);
		goto out;
	}
	if (gnutls_x509_crt_get_expiration_time(crt) < now)
		r = diag(d, -EINVAL, "%s: the certificate has expired",
		    c->certificate);
	else if (gnutls_x509_crt_get_activation_time(crt) > now)
		r = diag(d, -EINVAL, "%s: the certificate is not valid yet",
		    c->certificate);
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_certificate_free_credentials(cred);
	return r;
}

/* The CA file: one or more certificates, every one a CA. */
static int
check_ca(
    const struct coll_tls *t, const struct coll_config *c, struct coll_diag *d)
{
	gnutls_datum_t cd = { (unsigned char *)t->ca, (unsigned)strlen(t->ca) };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0, i;
	int g, r = 0;

	g = gnutls_x509_crt_list_import2(&list, &n, &cd, GNUTLS_X509_FMT_PEM,
	    GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (g < 0 || n == 0)
		return diag(d, -EINVAL, "%s: no CA certificate: %s", c->ca,
		    g < 0 ? gnutls_strerror(g) : "empty");
	for (i = 0; i < n; i++) {
		if (r == 0 && gnutls_x509_crt_get_ca_status(list[i], NULL) <= 0)
			r = diag(d, -EINVAL,
			    "%s: certificate %u is not a CA "
			    "certificate",
			    c->ca, i + 1);
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	return r;
}

static int
check_priorities(struct coll_diag *d)
{
	gnutls_priority_t p = NULL;
	const char *err = NULL;
	int g;

	g = gnutls_priority_init(&p, COLL_TLS_PRIORITIES, &err);
	if (g < 0)
		return diag(d, -EINVAL,
		    "TLS priorities rejected by GnuTLS at "
		    "'%.40s': %s",
		    err != NULL ? err : "", gnutls_strerror(g));
	gnutls_priority_deinit(p);
	return 0;
}

int
coll_tls_load(
    struct coll_tls *t, const struct coll_config *c, struct coll_diag *d)
{
	size_t len = 0;
	int r;

	memset(t, 0, sizeof(*t));
	memset(d, 0, sizeof(*d));
	if ((r = read_pem(c->certificate, PEM_MAX, &t->cert, &len, d)) < 0 ||
	    (r = read_pem(c->key, KEY_MAX, &t->key, &t->key_len, d)) < 0 ||
	    (r = read_pem(c->ca, PEM_MAX, &t->ca, &len, d)) < 0)
		goto out;
	if ((r = check_pair(t, c, d)) < 0 || (r = check_ca(t, c, d)) < 0 ||
	    (r = check_priorities(d)) < 0)
		goto out;
	return 0;
out:
	coll_tls_clear(t);
	return r;
}

void
coll_tls_clear(struct coll_tls *t)
{
	if (t == NULL)
		return;
	if (t->key != NULL)
		explicit_bzero(t->key, t->key_len);
	free(t->key);
	free(t->cert);
	free(t->ca);
	memset(t, 0, sizeof(*t));
}

/* The role from the subject's OU: exactly one of terminal or reviewer. */
static enum coll_role
peer_role(gnutls_x509_crt_t crt)
{
	enum coll_role role = COLL_ROLE_OTHER;
	char ou[64];
	size_t len;
	unsigned i;

	for (i = 0; i < 16; i++) {
		len = sizeof(ou);
		if (gnutls_x509_crt_get_dn_by_oid(crt,
			GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, i, 0, ou,
			&len) < 0)
			break;
		if (role != COLL_ROLE_OTHER)
			return COLL_ROLE_OTHER; /* two OUs: ambiguous */
		if (strcmp(ou, "terminal") == 0)
			role = COLL_ROLE_TERMINAL;
		else if (strcmp(ou, "reviewer") == 0)
			role = COLL_ROLE_REVIEWER;
		else
			return COLL_ROLE_OTHER;
	}
	return role;
}

static int refuse(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EACCES;
}

static int
verify_chain(gnutls_session_t s, char *why, size_t why_len)
{
	/* Not const only because the GnuTLS struct member is not. */
	static unsigned char client_auth[] = GNUTLS_KP_TLS_WWW_CLIENT;
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = client_auth,
	};
	gnutls_datum_t text = { NULL, 0 };
	unsigned status = 0;
	int g;

	g = gnutls_certificate_verify_peers(s, &purpose, 1, &status);
	if (g < 0)
		return refuse(why, why_len,
		    "client certificate not trusted "
		    "(%s)",
		    gnutls_strerror(g));
	if (status == 0)
		return 0;
	if (gnutls_certificate_verification_status_print(
		status, GNUTLS_CRT_X509, &text, 0) < 0)
		return refuse(why, why_len,
		    "client certificate not trusted "
		    "(status 0x%x)",
		    status);
	/* GnuTLS ends each sentence with a blank. */
	while (text.size > 0 && text.data[text.size - 1] == ' ')
		text.data[--text.size] = '\0';
	refuse(why, why_len, "client certificate not trusted (%s)",
	    (const char *)text.data);
	gnutls_free(text.data);
	return -EACCES;
}

int
coll_tls_peer(void *session, struct coll_peer *ret, char *why, size_t why_len)
{
	gnutls_session_t s = session;
	const gnutls_datum_t *list;
	gnutls_x509_crt_t crt = NULL;
	unsigned n = 0;
	size_t len;
	int r;

	if (s == NULL)
		return refuse(why, why_len, "not a TLS connection");
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
	    (list = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0)
		return refuse(why, why_len, "no client certificate");
	if ((r = verify_chain(s, why, why_len)) < 0)
		return r;
	if (gnutls_x509_crt_init(&crt) < 0)
		return refuse(why, why_len, "out of memory");
	if (gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER) < 0) {
		r = refuse(why, why_len, "client certificate unreadable");
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	len = sizeof(ret->cn);
	if (gnutls_x509_crt_get_dn_by_oid(
		crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, ret->cn, &len) < 0)
		ret->cn[0] = '\0'; /* too long or absent: no agent id */
	ret->role = peer_role(crt);
	ret->der = list[0].data;
	ret->der_len = list[0].size;
	r = 0;
out:
	gnutls_x509_crt_deinit(crt);
	return r;
}
