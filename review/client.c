/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET from the collector with libcurl, with the agent's TLS settings
 * (agent/ship.c): the town CA as the only trust anchor, host name checked,
 * TLS 1.2 or later with CRYPTREC-listed AES-GCM suites, no proxy, no
 * redirects.  Failures are explained for a reviewer, not as curl codes.
 */
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <errno.h>
#include <string.h>

#include "review.h"

#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES128-GCM-SHA256:"                             \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES256-GCM-SHA384"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#define ERROR_MAX 65536u

struct sink {
	CURL *curl;
	struct sbuf *body; /* 200 without out, and every error body */
	FILE *out;
	long code;
	bool failed;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;

	if (k->code == 0)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &k->code);
	if (k->code == 200 && k->out != NULL) {
		if (fwrite(p, size, n, k->out) != n) {
			k->failed = true;
			return 0;
		}
		return size * n;
	}
	/* Over the limit fails the transfer (curl: write error). */
	if (sbuf_put(k->body, p, size * n) < 0) {
		k->failed = true;
		return 0;
	}
	return size * n;
}

static CURLcode
setup(CURL *c, const struct rv_conn *conn, const char *url, char *err)
{
	CURLcode e = CURLE_OK;

#define SET(opt, val)      \
	if (e == CURLE_OK) \
	e = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_CIPHER_LIST, TLS12_CIPHERS);
	SET(CURLOPT_TLS13_CIPHERS, TLS13_CIPHERS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CAINFO, conn->ca);
	SET(CURLOPT_CAPATH, NULL); /* the town CA only, no system store */
	SET(CURLOPT_SSLCERT, conn->cert);
	SET(CURLOPT_SSLKEY, conn->key);
	SET(CURLOPT_CONNECTTIMEOUT, conn->connect_timeout_s);
	SET(CURLOPT_TIMEOUT, conn->timeout_s);
	SET(CURLOPT_ERRORBUFFER, err);
	SET(CURLOPT_WRITEFUNCTION, on_data);
#undef SET
	return e;
}

/* What the reviewer's own certificate is: its OU and whether it has
 * expired, for explaining a refusal.  Best effort. */
/* Whether x chains to the CA file (time not checked: that is *expired). */
static bool
issued_by(X509 *x, const char *ca)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (st != NULL && ctx != NULL && X509_STORE_load_file(st, ca) == 1 &&
	    X509_STORE_CTX_init(ctx, st, x, NULL) == 1) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static void
describe_cert(const struct rv_conn *c, char *ou, size_t ou_len, bool *expired,
    bool *foreign)
{
	const char *path = c->cert;
	X509 *x = NULL;
	FILE *f;
	int i;

	ou[0] = '\0';
	*expired = false;
	*foreign = false;
	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return;
	i = X509_NAME_get_index_by_NID(
	    X509_get_subject_name(x), NID_organizationalUnitName, -1);
	if (i >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(X509_get_subject_name(x), i));
		snprintf(ou, ou_len, "%.*s", ASN1_STRING_length(d),
		    (const char *)ASN1_STRING_get0_data(d));
	}
	*expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
	*foreign = !issued_by(x, c->ca);
	X509_free(x);
}

/* The collector would not talk to us, or we would not trust it. */
static int
explain_tls(const struct rv_conn *c, CURLcode e, const char *err)
{
	char ou[64];
	bool expired, foreign;

	fprintf(stderr, "mynaguard-review: %s: %s\n", c->url,
	    err[0] != '\0' ? err : curl_easy_strerror(e));
	switch (e) {
	case CURLE_PEER_FAILED_VERIFICATION:
		fprintf(stderr,
		    "  the collector's certificate was not issued "
		    "by the CA in %s, or not for this host name: check --ca "
		    "and --url\n",
		    c->ca);
		return RV_EXIT_REFUSED;
	case CURLE_SSL_CACERT_BADFILE:
		fprintf(stderr, "  cannot read the CA certificate %s\n", c->ca);
		return RV_EXIT_USAGE;
	case CURLE_SSL_CERTPROBLEM:
		fprintf(stderr,
		    "  cannot use the certificate %s with the key "
		    "%s\n",
		    c->cert, c->key);
		return RV_EXIT_USAGE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		describe_cert(c, ou, sizeof(ou), &expired, &foreign);
		if (expired)
			fprintf(stderr,
			    "  the certificate %s has expired: ask "
			    "the administrator for a new reviewer "
			    "certificate\n",
			    c->cert);
		else if (foreign)
			fprintf(stderr,
			    "  the certificate %s was not issued "
			    "by the town CA in %s\n",
			    c->cert, c->ca);
		else
			fprintf(stderr,
			    "  the collector refused the TLS "
			    "connection: is %s a certificate of the town CA "
			    "the collector trusts?\n",
			    c->cert);
		return RV_EXIT_REFUSED;
	default:
		return RV_EXIT_USAGE;
	}
}

/* An HTTP error status with the API's {"error": "..."} sentence. */
static int
explain_http(const struct rv_conn *c, long code, struct sbuf *body)
{
	struct rv_json *j = NULL;
	struct sbuf clean;
	struct arena *a = NULL;
	const char *msg = "";
	size_t len = 0;
	char ou[64];
	bool expired, foreign;

	sbuf_init(&clean, ERROR_MAX);
	if (body->data != NULL && arena_new(&a) == 0 &&
	    rv_json_parse(a, body->data, body->len, &j) == 0)
		msg = rv_json_text(j, "error", &len);
	if (len > 0 && rv_width_clean(&clean, msg, len, 300, NULL) == 0)
		fprintf(stderr, "mynaguard-review: HTTP %ld: %s\n", code,
		    clean.data);
	else
		fprintf(stderr, "mynaguard-review: HTTP %ld from %s\n", code,
		    c->url);
	if (code == 403) {
		/* The collector refuses untrusted certificates with a 403
		 * as well (GnuTLS checks them after the handshake). */
		describe_cert(c, ou, sizeof(ou), &expired, &foreign);
		if (expired)
			fprintf(stderr,
			    "  the certificate %s has expired: "
			    "ask the administrator for a new reviewer "
			    "certificate\n",
			    c->cert);
		else if (foreign)
			fprintf(stderr,
			    "  the certificate %s was not issued "
			    "by the town CA in %s, which the collector "
			    "trusts\n",
			    c->cert, c->ca);
		else if (strcmp(ou, "reviewer") == 0)
			fprintf(stderr,
			    "  this reviewer certificate was "
			    "refused: is it from the town CA the collector "
			    "trusts?\n");
		else
			fprintf(stderr,
			    "  this certificate is not a reviewer "
			    "certificate%s%s%s: use the one made with "
			    "\"mkcerts.sh reviewer\"\n",
			    ou[0] ? " (it has OU=" : "", ou, ou[0] ? ")" : "");
	}
	sbuf_clear(&clean);
	arena_free(a);
	return code == 401 || code == 403 || code == 404 ? RV_EXIT_REFUSED :
							   RV_EXIT_USAGE;
}

int
rv_get(const struct rv_conn *c, const char *path, struct sbuf *body, FILE *out)
{
	char err[CURL_ERROR_SIZE] = "";
	struct sink k = { .body = body, .out = out };
	struct sbuf url;
	CURLcode e;
	int code;

	sbuf_init(&url, 8192);
	if (sbuf_printf(&url, "%s%s", c->url, path) < 0 ||
	    (k.curl = curl_easy_init()) == NULL) {
		fprintf(stderr,
		    "mynaguard-review: out of memory or URL too "
		    "long\n");
		sbuf_clear(&url);
		return RV_EXIT_USAGE;
	}
	body->len = 0;
	e = setup(k.curl, c, url.data, err);
	if (e == CURLE_OK)
		e = curl_easy_setopt(k.curl, CURLOPT_WRITEDATA, &k);
	if (e == CURLE_OK)
		e = curl_easy_perform(k.curl);
	if (k.code == 0)
		curl_easy_getinfo(k.curl, CURLINFO_RESPONSE_CODE, &k.code);
	if (e != CURLE_OK && k.failed) {
		fprintf(stderr, "mynaguard-review: %s\n",
		    out != NULL ? "cannot write the output" :
				  "the answer is too long");
		code = RV_EXIT_USAGE;
	} else if (e != CURLE_OK)
		code = explain_tls(c, e, err);
	else if (k.code != 200)
		code = explain_http(c, k.code, body);
	else
		code = RV_EXIT_OK;
	curl_easy_cleanup(k.curl);
	sbuf_clear(&url);
	return code;
}

int
rv_fetch_json(const struct rv_conn *c, const char *path, struct arena *a,
    struct sbuf *body, const struct rv_json **ret)
{
	struct rv_json *j = NULL;
	int code;

	if ((code = rv_get(c, path, body, NULL)) != RV_EXIT_OK)
		return code;
	if (body->data == NULL ||
	    rv_json_parse(a, body->data, body->len, &j) < 0 ||
	    j->type != RV_JSON_OBJECT) {
		fprintf(stderr,
		    "mynaguard-review: the collector's answer to "
		    "%s is not a JSON object\n",
		    path);
		return RV_EXIT_USAGE;
	}
	*ret = j;
	return RV_EXIT_OK;
}
