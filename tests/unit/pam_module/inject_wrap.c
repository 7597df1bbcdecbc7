/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Failure injection for pam_mynaguard (test_inject.c), pam_u2f fuzz/wrap.c
 * style: every function the module calls in another object or library is
 * linked with -Wl,--wrap=NAME (inject.cmake lists them) and lands here.
 * While armed, every call is counted; the at-th one is not made and
 * returns that function's error instead (NULL, a FIDO_ERR_*, a PAM error,
 * -errno, -1 with errno), or, for a function that reports a value, a
 * hostile value (flags 0, counter 0, another AAGUID).  A function that can
 * fail in several ways has variants, chosen by number.
 *
 * Calls made inside another wrapped function that is let through (malloc
 * inside pol_policy_parse(), EVP_Digest inside pmod_cred_id_hash()) are
 * counted too: the record names the failing call ("func") and the
 * module's own call it happened in ("site").  Calls made by the
 * authenticator behind libfido2's io hooks and by the test's conversation
 * are the outside world and are not counted (inject_quiet_begin()).
 *
 * Linux-PAM refuses pam_set_data() to an application, and
 * pam_modutil_getpwnam()/getgrgid() keep their results with it (and loop
 * until it works), so the module must run as a module: the test calls
 * pam_authenticate() on a service whose only line is a shim module built
 * from this file with INJECT_SHIM defined, and the shim calls the
 * module's pam_sm_authenticate() (linked into the test, wrapped) through
 * the conversation's appdata_ptr (struct inject_pam_call).
 *
 * The tests' files are this one, test_inject.c and inject.cmake, so this
 * file is also the header of its API: test_inject.c includes it with
 * INJECT_API_ONLY defined, and both see the same declarations.
 */
#ifndef INJECT_WRAP_API
#define INJECT_WRAP_API

#include <stdbool.h>
#include <stddef.h>

#include <fido.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>

#define INJECT_NAME_MAX 48

struct inject_result {
	unsigned calls;		/* wrapped calls counted while armed */
	bool fired;		/* the at-th call happened and failed */
	unsigned variant;	/* which of its nvariants ways */
	unsigned nvariants;
	char func[INJECT_NAME_MAX];	/* the call that failed */
	unsigned func_occ;		/* its k-th call (1-based) */
	char site[INJECT_NAME_MAX];	/* the module's call it was in */
	unsigned site_occ;
	char value[INJECT_NAME_MAX];	/* what it returned */
};

/* Count wrapped calls from now on and fail the at-th one (1-based; 0
 * fails none) in its variant-th way (modulo its number of ways). */
void inject_arm(unsigned at, unsigned variant);
/* Stop counting; *ret says what happened while armed. */
void inject_disarm(struct inject_result *ret);
/* Calls between these (they nest) are not counted and never fail. */
void inject_quiet_begin(void);
void inject_quiet_end(void);
/* What fido_dev_info_manifest() does when it is not failing: the test
 * puts its software authenticator in the list. */
typedef int inject_manifest_fn(fido_dev_info_t *, size_t, size_t *);
void inject_set_manifest(inject_manifest_fn *fn);

/* The conversation's appdata_ptr, for the shim module. */
struct inject_pam_call {
	int (*authenticate)(pam_handle_t *pamh, int flags, int argc,
	    const char **argv);
	int argc;
	const char **argv;
	bool called;
	int result;		/* what authenticate() returned */
};

#endif /* INJECT_WRAP_API */

#ifdef INJECT_SHIM
/* ---- the shim module: pam_authenticate() -> the module under test ---- */

int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv);
int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
    const char **argv);

int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	const struct pam_conv *conv;
	struct inject_pam_call *call;
	const void *item = NULL;

	(void)argc;
	(void)argv;
	if (pam_get_item(pamh, PAM_CONV, &item) != PAM_SUCCESS ||
	    (conv = item) == NULL || (call = conv->appdata_ptr) == NULL)
		return PAM_SYSTEM_ERR;
	call->result = call->authenticate(pamh, flags, call->argc,
	    call->argv);
	call->called = true;
	return call->result;
}

int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

#elif !defined(INJECT_API_ONLY)

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fido/es256.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "mynaguard/common.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#define STACK_MAX 8
#define NAMES_MAX 128

static struct {
	bool armed;
	unsigned at, variant;
	unsigned quiet;
	unsigned depth;		/* wrapped calls let through, nested */
	const char *stack_name[STACK_MAX];
	unsigned stack_occ[STACK_MAX];
	const char *names[NAMES_MAX];	/* per-name call counts */
	unsigned occ[NAMES_MAX];
	size_t n_names;
	struct inject_result res;
	inject_manifest_fn *manifest;
} st;

void
inject_arm(unsigned at, unsigned variant)
{
	memset(&st.res, 0, sizeof(st.res));
	st.n_names = 0;
	st.depth = 0;
	st.at = at;
	st.variant = variant;
	st.armed = true;
}

void
inject_disarm(struct inject_result *ret)
{
	st.armed = false;
	if (ret != NULL)
		*ret = st.res;
}

void
inject_quiet_begin(void)
{
	st.quiet++;
}

void
inject_quiet_end(void)
{
	st.quiet--;
}

void
inject_set_manifest(inject_manifest_fn *fn)
{
	st.manifest = fn;
}

static unsigned
occurrence(const char *name, bool bump)
{
	size_t i;

	for (i = 0; i < st.n_names; i++)
		if (strcmp(st.names[i], name) == 0)
			return bump ? ++st.occ[i] : st.occ[i];
	if (!bump || st.n_names == NAMES_MAX)
		return 0;
	st.names[st.n_names] = name;
	st.occ[st.n_names] = 1;
	st.n_names++;
	return 1;
}

static void
copy_name(char *dst, const char *src)
{
	(void)snprintf(dst, INJECT_NAME_MAX, "%s", src);
}

/* The way this call fails (0..n-1), or -1 to let it through. */
static int
hit(const char *name, const char *const *values, size_t n)
{
	struct inject_result *r = &st.res;
	unsigned occ;

	if (!st.armed || st.quiet > 0)
		return -1;
	r->calls++;
	occ = occurrence(name, true);
	if (r->calls != st.at)
		return -1;
	r->fired = true;
	r->nvariants = (unsigned)n;
	r->variant = st.variant % (unsigned)n;
	copy_name(r->func, name);
	r->func_occ = occ;
	copy_name(r->site, st.depth > 0 ? st.stack_name[0] : name);
	r->site_occ = st.depth > 0 ? st.stack_occ[0] : occ;
	copy_name(r->value, values[r->variant]);
	return (int)r->variant;
}

#define HIT(name, ...) hit(name, (const char *const[]){ __VA_ARGS__ }, \
    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

/* Around a wrapped call that is let through and may make wrapped calls. */
static void
enter(const char *name)
{
	if (st.depth < STACK_MAX) {
		st.stack_name[st.depth] = name;
		st.stack_occ[st.depth] = occurrence(name, false);
	}
	st.depth++;
}

static void
leave(void)
{
	st.depth--;
}

/* __real_NAME and __wrap_NAME, and a compile-time check that the wrapper
 * has exactly the type of the function it replaces. */
#define WRAP(ret, name, params)						\
	ret __real_##name params;					\
	ret __wrap_##name params;					\
	_Static_assert(__builtin_types_compatible_p(__typeof__(name),	\
	    __typeof__(__wrap_##name)), "the type of " #name)

/* ---- memory ----------------------------------------------------------- */

WRAP(void *, malloc, (size_t n));
WRAP(void *, calloc, (size_t n, size_t m));
WRAP(void *, realloc, (void *p, size_t n));
WRAP(char *, strdup, (const char *s));
WRAP(int, asprintf, (char **ret, const char *fmt, ...));
/* _FORTIFY_SOURCE=2 turns asprintf() into this. */
int __wrap___asprintf_chk(char **ret, int flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int __wrap_asprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int do_asprintf(char **ret, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void *
__wrap_malloc(size_t n)
{
	if (HIT("malloc", "NULL") >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	if (HIT("calloc", "NULL") >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (HIT("realloc", "NULL") >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	if (HIT("strdup", "NULL") >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

static int
do_asprintf(char **ret, const char *fmt, va_list ap)
{
	if (HIT("asprintf", "-1") >= 0) {
		errno = ENOMEM;
		return -1;
	}
	return vasprintf(ret, fmt, ap);
}

int
__wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = do_asprintf(ret, fmt, ap);
	va_end(ap);
	return r;
}

int
__wrap___asprintf_chk(char **ret, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;

	(void)flag;
	va_start(ap, fmt);
	r = do_asprintf(ret, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- PAM and the user database ------------------------------------- */

WRAP(int, pam_get_user, (pam_handle_t *pamh, const char **user,
    const char *prompt));
WRAP(int, pam_get_item, (const pam_handle_t *pamh, int item_type,
    const void **item));
WRAP(int, pam_prompt, (pam_handle_t *pamh, int style, char **response,
    const char *fmt, ...));
int __wrap_pam_prompt(pam_handle_t *pamh, int style, char **response,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
WRAP(const char *, pam_getenv, (pam_handle_t *pamh, const char *name));
WRAP(struct passwd *, pam_modutil_getpwnam, (pam_handle_t *pamh,
    const char *user));
WRAP(struct group *, pam_modutil_getgrgid, (pam_handle_t *pamh,
    gid_t gid));
WRAP(int, getgrouplist, (const char *user, gid_t group, gid_t *groups,
    int *ngroups));

int
__wrap_pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt)
{
	switch (HIT("pam_get_user", "PAM_SYSTEM_ERR", "PAM_CONV_AGAIN",
	    "PAM_CONV_ERR", "PAM_SUCCESS, user NULL",
	    "PAM_SUCCESS, user \"\"")) {
	case 0:
		return PAM_SYSTEM_ERR;
	case 1:
		return PAM_CONV_AGAIN;
	case 2:
		return PAM_CONV_ERR;
	case 3:
		*user = NULL;
		return PAM_SUCCESS;
	case 4:
		*user = "";
		return PAM_SUCCESS;
	}
	return __real_pam_get_user(pamh, user, prompt);
}

int
__wrap_pam_get_item(const pam_handle_t *pamh, int item_type,
    const void **item)
{
	int v;

	switch (item_type) {
	case PAM_SERVICE:
		v = HIT("pam_get_item(PAM_SERVICE)", "PAM_SYSTEM_ERR",
		    "PAM_BAD_ITEM", "PAM_SUCCESS, NULL");
		break;
	case PAM_TTY:
		v = HIT("pam_get_item(PAM_TTY)", "PAM_SYSTEM_ERR",
		    "PAM_BAD_ITEM");
		break;
	case PAM_RHOST:
		v = HIT("pam_get_item(PAM_RHOST)", "PAM_SYSTEM_ERR",
		    "PAM_BAD_ITEM");
		break;
	default:
		v = HIT("pam_get_item(other)", "PAM_SYSTEM_ERR");
		break;
	}
	switch (v) {
	case 0:
		return PAM_SYSTEM_ERR;
	case 1:
		return PAM_BAD_ITEM;
	case 2:
		*item = NULL;
		return PAM_SUCCESS;
	}
	return __real_pam_get_item(pamh, item_type, item);
}

/* Hostile answers to the PIN prompt.  The module free()s them. */
static int
fake_answer(char **response, const char *s)
{
	if (response != NULL)
		*response = s != NULL ? __real_strdup(s) : NULL;
	return PAM_SUCCESS;
}

static int
prompt_fails(int style, char **response)
{
	int v;

	if (style != PAM_PROMPT_ECHO_OFF) {
		v = HIT(style == PAM_ERROR_MSG ? "pam_prompt(error)" :
		    style == PAM_TEXT_INFO ? "pam_prompt(info)" :
		    "pam_prompt(echo-on)", "PAM_CONV_ERR", "PAM_BUF_ERR");
		return v < 0 ? -1 : v == 0 ? PAM_CONV_ERR : PAM_BUF_ERR;
	}
	/* The PIN: a failed conversation, and the answers of CVE-2021-31924
	 * (success without an answer), an empty one and a full-width one. */
	switch (HIT("pam_prompt(echo-off)", "PAM_CONV_ERR", "PAM_BUF_ERR",
	    "PAM_SUCCESS, answer NULL", "PAM_SUCCESS, answer \"\"",
	    "PAM_SUCCESS, full-width digits")) {
	case 0:
		return PAM_CONV_ERR;
	case 1:
		return PAM_BUF_ERR;
	case 2:
		return fake_answer(response, NULL);
	case 3:
		return fake_answer(response, "");
	case 4:
		return fake_answer(response, "\xef\xbc\x92\xef\xbc\x94\xef"
		    "\xbc\x96\xef\xbc\x98");
	}
	return -1;
}

int
__wrap_pam_prompt(pam_handle_t *pamh, int style, char **response,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	if ((r = prompt_fails(style, response)) >= 0)
		return r;
	/* The conversation is the test's, not the module's. */
	inject_quiet_begin();
	va_start(ap, fmt);
	r = pam_vprompt(pamh, style, response, fmt, ap);
	va_end(ap);
	inject_quiet_end();
	return r;
}

const char *
__wrap_pam_getenv(pam_handle_t *pamh, const char *name)
{
	if (HIT("pam_getenv", "NULL") >= 0)
		return NULL;
	return __real_pam_getenv(pamh, name);
}

struct passwd *
__wrap_pam_modutil_getpwnam(pam_handle_t *pamh, const char *user)
{
	if (HIT("pam_modutil_getpwnam", "NULL") >= 0) {
		errno = EIO;
		return NULL;
	}
	return __real_pam_modutil_getpwnam(pamh, user);
}

struct group *
__wrap_pam_modutil_getgrgid(pam_handle_t *pamh, gid_t gid)
{
	if (HIT("pam_modutil_getgrgid", "NULL") >= 0) {
		errno = EIO;
		return NULL;
	}
	return __real_pam_modutil_getgrgid(pamh, gid);
}

int
__wrap_getgrouplist(const char *user, gid_t group, gid_t *groups,
    int *ngroups)
{
	if (HIT("getgrouplist", "-1") >= 0)
		return -1;
	return __real_getgrouplist(user, group, groups, ngroups);
}

/* ---- OpenSSL ---------------------------------------------------------- */

WRAP(int, RAND_bytes, (unsigned char *buf, int num));
WRAP(unsigned char *, SHA256, (const unsigned char *d, size_t n,
    unsigned char *md));
WRAP(int, EVP_Digest, (const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl));

int
__wrap_RAND_bytes(unsigned char *buf, int num)
{
	switch (HIT("RAND_bytes", "0", "-1")) {
	case 0:
		return 0;
	case 1:
		return -1;
	}
	return __real_RAND_bytes(buf, num);
}

unsigned char *
__wrap_SHA256(const unsigned char *d, size_t n, unsigned char *md)
{
	if (HIT("SHA256", "NULL") >= 0)
		return NULL;
	return __real_SHA256(d, n, md);
}

int
__wrap_EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl)
{
	if (HIT("EVP_Digest", "0") >= 0)
		return 0;
	return __real_EVP_Digest(data, count, md, size, type, impl);
}

/* ---- our libraries: common, policy, login, event ----------------------- */

WRAP(int, file_read_all, (const char *path, size_t max, unsigned flags,
    char **ret, size_t *ret_len));
WRAP(int, pol_policy_parse, (const char *buf, size_t len,
    struct pol_diags *diags, struct pol_policy **ret));
WRAP(int, pol_login_is_break_glass, (const struct pol_policy *p,
    const char *user));
WRAP(int, pol_login_requires_key, (const struct pol_policy *p,
    const char *user, const char *const *groups, size_t n_groups));
WRAP(int, pmod_creds_load, (const char *path, struct pmod_creds **ret,
    struct pmod_diag *diag));
WRAP(size_t, pmod_creds_for_user, (const struct pmod_creds *c,
    const char *user, const struct pmod_cred **out, size_t max));
WRAP(void, pmod_cred_id_hash, (const struct pmod_cred *cred, char out[65]));
WRAP(int, pmod_tally_state, (const char *dir, const char *user,
    unsigned threshold, uint32_t unlock_after_s, uint64_t now,
    struct pmod_lock_state *ret));
WRAP(int, pmod_tally_record, (const char *dir, const char *user,
    const char *source, int source_kind, uint64_t now));
WRAP(int, pmod_tally_reset, (const char *dir, const char *user));
WRAP(int, pmod_counter_get, (const char *dir, const char id_hash[65],
    uint32_t *ret));
WRAP(int, pmod_counter_set, (const char *dir, const char id_hash[65],
    uint32_t value));
WRAP(int, mg_submit_event, (const char *sock_path, const char *drop_dir,
    const struct mg_submit *s, int timeout_ms, uint64_t *ret_seq));

int
__wrap_file_read_all(const char *path, size_t max, unsigned flags,
    char **ret, size_t *ret_len)
{
	static const int e[] = { EIO, EPERM, E2BIG, ENOMEM, ENOENT };
	int v, r;

	if ((v = HIT("file_read_all", "-EIO", "-EPERM", "-E2BIG", "-ENOMEM",
	    "-ENOENT")) >= 0)
		return -e[v];
	enter("file_read_all");
	r = __real_file_read_all(path, max, flags, ret, ret_len);
	leave();
	return r;
}

int
__wrap_pol_policy_parse(const char *buf, size_t len, struct pol_diags *diags,
    struct pol_policy **ret)
{
	static const int e[] = { ENOMEM, EBADMSG, E2BIG };
	int v, r;

	if ((v = HIT("pol_policy_parse", "-ENOMEM", "-EBADMSG",
	    "-E2BIG")) >= 0)
		return -e[v];
	enter("pol_policy_parse");
	r = __real_pol_policy_parse(buf, len, diags, ret);
	leave();
	return r;
}

int
__wrap_pol_login_is_break_glass(const struct pol_policy *p, const char *user)
{
	if (HIT("pol_login_is_break_glass", "-EINVAL") >= 0)
		return -EINVAL;
	return __real_pol_login_is_break_glass(p, user);
}

int
__wrap_pol_login_requires_key(const struct pol_policy *p, const char *user,
    const char *const *groups, size_t n_groups)
{
	if (HIT("pol_login_requires_key", "-EINVAL") >= 0)
		return -EINVAL;
	return __real_pol_login_requires_key(p, user, groups, n_groups);
}

int
__wrap_pmod_creds_load(const char *path, struct pmod_creds **ret,
    struct pmod_diag *diag)
{
	static const int e[] = { EIO, EACCES, EBADMSG, ENOMEM, ENOENT, E2BIG };
	int v, r;

	if ((v = HIT("pmod_creds_load", "-EIO", "-EACCES", "-EBADMSG",
	    "-ENOMEM", "-ENOENT", "-E2BIG")) >= 0)
		return -e[v];
	enter("pmod_creds_load");
	r = __real_pmod_creds_load(path, ret, diag);
	leave();
	return r;
}

size_t
__wrap_pmod_creds_for_user(const struct pmod_creds *c, const char *user,
    const struct pmod_cred **out, size_t max)
{
	if (HIT("pmod_creds_for_user", "0") >= 0)
		return 0;
	return __real_pmod_creds_for_user(c, user, out, max);
}

void
__wrap_pmod_cred_id_hash(const struct pmod_cred *cred, char out[65])
{
	if (HIT("pmod_cred_id_hash", "\"\"") >= 0) {
		out[0] = '\0';
		return;
	}
	enter("pmod_cred_id_hash");
	__real_pmod_cred_id_hash(cred, out);
	leave();
}

int
__wrap_pmod_tally_state(const char *dir, const char *user,
    unsigned threshold, uint32_t unlock_after_s, uint64_t now,
    struct pmod_lock_state *ret)
{
	static const int e[] = { EIO, EACCES, EINVAL, ENOMEM };
	int v, r;

	if ((v = HIT("pmod_tally_state", "-EIO", "-EACCES", "-EINVAL",
	    "-ENOMEM")) >= 0)
		return -e[v];
	enter("pmod_tally_state");
	r = __real_pmod_tally_state(dir, user, threshold, unlock_after_s, now,
	    ret);
	leave();
	return r;
}

int
__wrap_pmod_tally_record(const char *dir, const char *user,
    const char *source, int source_kind, uint64_t now)
{
	static const int e[] = { EIO, ENOSPC, EACCES };
	int v, r;

	if ((v = HIT("pmod_tally_record", "-EIO", "-ENOSPC", "-EACCES")) >= 0)
		return -e[v];
	enter("pmod_tally_record");
	r = __real_pmod_tally_record(dir, user, source, source_kind, now);
	leave();
	return r;
}

int
__wrap_pmod_tally_reset(const char *dir, const char *user)
{
	static const int e[] = { EIO, EACCES };
	int v, r;

	if ((v = HIT("pmod_tally_reset", "-EIO", "-EACCES")) >= 0)
		return -e[v];
	enter("pmod_tally_reset");
	r = __real_pmod_tally_reset(dir, user);
	leave();
	return r;
}

/* Never -ENOENT: "never seen" is a legitimate answer (the first login). */
int
__wrap_pmod_counter_get(const char *dir, const char id_hash[65],
    uint32_t *ret)
{
	static const int e[] = { EIO, EACCES, EBADMSG, EINVAL };
	int v, r;

	if ((v = HIT("pmod_counter_get", "-EIO", "-EACCES", "-EBADMSG",
	    "-EINVAL")) >= 0)
		return -e[v];
	enter("pmod_counter_get");
	r = __real_pmod_counter_get(dir, id_hash, ret);
	leave();
	return r;
}

int
__wrap_pmod_counter_set(const char *dir, const char id_hash[65],
    uint32_t value)
{
	static const int e[] = { EIO, ENOSPC, EROFS };
	int v, r;

	if ((v = HIT("pmod_counter_set", "-EIO", "-ENOSPC", "-EROFS")) >= 0)
		return -e[v];
	enter("pmod_counter_set");
	r = __real_pmod_counter_set(dir, id_hash, value);
	leave();
	return r;
}

int
__wrap_mg_submit_event(const char *sock_path, const char *drop_dir,
    const struct mg_submit *s, int timeout_ms, uint64_t *ret_seq)
{
	int r;

	if (HIT("mg_submit_event", "-EIO") >= 0)
		return -EIO;
	enter("mg_submit_event");
	r = __real_mg_submit_event(sock_path, drop_dir, s, timeout_ms,
	    ret_seq);
	leave();
	return r;
}

/* ---- libfido2 --------------------------------------------------------- */

WRAP(fido_dev_info_t *, fido_dev_info_new, (size_t n));
WRAP(int, fido_dev_info_manifest, (fido_dev_info_t *devlist, size_t ilen,
    size_t *olen));
WRAP(fido_dev_t *, fido_dev_new_with_info, (const fido_dev_info_t *di));
WRAP(int, fido_dev_open_with_info, (fido_dev_t *dev));
WRAP(fido_assert_t *, fido_assert_new, (void));
WRAP(int, fido_assert_set_rp, (fido_assert_t *a, const char *rp));
WRAP(int, fido_assert_set_clientdata_hash, (fido_assert_t *a,
    const unsigned char *p, size_t n));
WRAP(int, fido_assert_allow_cred, (fido_assert_t *a, const unsigned char *p,
    size_t n));
WRAP(int, fido_assert_set_up, (fido_assert_t *a, fido_opt_t up));
WRAP(int, fido_assert_set_uv, (fido_assert_t *a, fido_opt_t uv));
WRAP(int, fido_dev_get_assert, (fido_dev_t *dev, fido_assert_t *a,
    const char *pin));
WRAP(size_t, fido_assert_count, (const fido_assert_t *a));
WRAP(const unsigned char *, fido_assert_id_ptr, (const fido_assert_t *a,
    size_t i));
WRAP(size_t, fido_assert_id_len, (const fido_assert_t *a, size_t i));
WRAP(int, fido_dev_get_cbor_info, (fido_dev_t *dev, fido_cbor_info_t *ci));
WRAP(fido_cbor_info_t *, fido_cbor_info_new, (void));
WRAP(size_t, fido_cbor_info_aaguid_len, (const fido_cbor_info_t *ci));
WRAP(const unsigned char *, fido_cbor_info_aaguid_ptr,
    (const fido_cbor_info_t *ci));
WRAP(int, fido_dev_get_retry_count, (fido_dev_t *dev, int *retries));
WRAP(bool, fido_dev_has_pin, (const fido_dev_t *dev));
WRAP(bool, fido_dev_has_uv, (const fido_dev_t *dev));
WRAP(int, fido_dev_set_sigmask, (fido_dev_t *dev,
    const fido_sigset_t *sigmask));
WRAP(int, fido_dev_set_timeout, (fido_dev_t *dev, int ms));
WRAP(int, fido_assert_verify, (const fido_assert_t *a, size_t idx,
    int cose_alg, const void *pk));
WRAP(es256_pk_t *, es256_pk_new, (void));
WRAP(int, es256_pk_from_ptr, (es256_pk_t *pk, const void *ptr, size_t len));
WRAP(uint32_t, fido_assert_sigcount, (const fido_assert_t *a, size_t i));
WRAP(uint8_t, fido_assert_flags, (const fido_assert_t *a, size_t i));
WRAP(const unsigned char *, fido_assert_authdata_ptr,
    (const fido_assert_t *a, size_t i));
WRAP(size_t, fido_assert_authdata_len, (const fido_assert_t *a, size_t i));

fido_dev_info_t *
__wrap_fido_dev_info_new(size_t n)
{
	if (HIT("fido_dev_info_new", "NULL") >= 0)
		return NULL;
	return __real_fido_dev_info_new(n);
}

/* Never the real enumeration: the test's authenticator is the only key. */
int
__wrap_fido_dev_info_manifest(fido_dev_info_t *devlist, size_t ilen,
    size_t *olen)
{
	switch (HIT("fido_dev_info_manifest", "FIDO_ERR_INTERNAL",
	    "FIDO_OK, no key")) {
	case 0:
		return FIDO_ERR_INTERNAL;
	case 1:
		*olen = 0;
		return FIDO_OK;
	}
	if (st.manifest == NULL) {
		*olen = 0;
		return FIDO_OK;
	}
	return st.manifest(devlist, ilen, olen);
}

fido_dev_t *
__wrap_fido_dev_new_with_info(const fido_dev_info_t *di)
{
	if (HIT("fido_dev_new_with_info", "NULL") >= 0)
		return NULL;
	return __real_fido_dev_new_with_info(di);
}

int
__wrap_fido_dev_open_with_info(fido_dev_t *dev)
{
	switch (HIT("fido_dev_open_with_info", "FIDO_ERR_RX",
	    "FIDO_ERR_INTERNAL")) {
	case 0:
		return FIDO_ERR_RX;
	case 1:
		return FIDO_ERR_INTERNAL;
	}
	return __real_fido_dev_open_with_info(dev);
}

fido_assert_t *
__wrap_fido_assert_new(void)
{
	if (HIT("fido_assert_new", "NULL") >= 0)
		return NULL;
	return __real_fido_assert_new();
}

int
__wrap_fido_assert_set_rp(fido_assert_t *a, const char *rp)
{
	if (HIT("fido_assert_set_rp", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_assert_set_rp(a, rp);
}

int
__wrap_fido_assert_set_clientdata_hash(fido_assert_t *a,
    const unsigned char *p, size_t n)
{
	if (HIT("fido_assert_set_clientdata_hash",
	    "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_assert_set_clientdata_hash(a, p, n);
}

int
__wrap_fido_assert_allow_cred(fido_assert_t *a, const unsigned char *p,
    size_t n)
{
	if (HIT("fido_assert_allow_cred", "FIDO_ERR_INTERNAL") >= 0)
		return FIDO_ERR_INTERNAL;
	return __real_fido_assert_allow_cred(a, p, n);
}

int
__wrap_fido_assert_set_up(fido_assert_t *a, fido_opt_t up)
{
	if (HIT("fido_assert_set_up", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_assert_set_up(a, up);
}

int
__wrap_fido_assert_set_uv(fido_assert_t *a, fido_opt_t uv)
{
	if (HIT("fido_assert_set_uv", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_assert_set_uv(a, uv);
}

/* Every way an assertion can fail, and a success that did nothing. */
int
__wrap_fido_dev_get_assert(fido_dev_t *dev, fido_assert_t *a,
    const char *pin)
{
	static const int e[] = { FIDO_ERR_RX, FIDO_ERR_TX,
		FIDO_ERR_PIN_INVALID, FIDO_ERR_PIN_BLOCKED,
		FIDO_ERR_PIN_AUTH_BLOCKED, FIDO_ERR_NO_CREDENTIALS,
		FIDO_ERR_USER_PRESENCE_REQUIRED, FIDO_ERR_ACTION_TIMEOUT,
		FIDO_ERR_KEEPALIVE_CANCEL, FIDO_ERR_INVALID_ARGUMENT,
		FIDO_ERR_INTERNAL, FIDO_OK };
	int v;

	if ((v = HIT("fido_dev_get_assert", "FIDO_ERR_RX", "FIDO_ERR_TX",
	    "FIDO_ERR_PIN_INVALID", "FIDO_ERR_PIN_BLOCKED",
	    "FIDO_ERR_PIN_AUTH_BLOCKED", "FIDO_ERR_NO_CREDENTIALS",
	    "FIDO_ERR_USER_PRESENCE_REQUIRED", "FIDO_ERR_ACTION_TIMEOUT",
	    "FIDO_ERR_KEEPALIVE_CANCEL", "FIDO_ERR_INVALID_ARGUMENT",
	    "FIDO_ERR_INTERNAL", "FIDO_OK, nothing asked")) >= 0)
		return e[v];
	return __real_fido_dev_get_assert(dev, a, pin);
}

size_t
__wrap_fido_assert_count(const fido_assert_t *a)
{
	switch (HIT("fido_assert_count", "0", "2")) {
	case 0:
		return 0;
	case 1:
		return 2;
	}
	return __real_fido_assert_count(a);
}

const unsigned char *
__wrap_fido_assert_id_ptr(const fido_assert_t *a, size_t i)
{
	if (HIT("fido_assert_id_ptr", "NULL") >= 0)
		return NULL;
	return __real_fido_assert_id_ptr(a, i);
}

size_t
__wrap_fido_assert_id_len(const fido_assert_t *a, size_t i)
{
	if (HIT("fido_assert_id_len", "0") >= 0)
		return 0;
	return __real_fido_assert_id_len(a, i);
}

int
__wrap_fido_dev_get_cbor_info(fido_dev_t *dev, fido_cbor_info_t *ci)
{
	switch (HIT("fido_dev_get_cbor_info", "FIDO_ERR_RX",
	    "FIDO_OK, nothing asked")) {
	case 0:
		return FIDO_ERR_RX;
	case 1:
		return FIDO_OK;
	}
	return __real_fido_dev_get_cbor_info(dev, ci);
}

fido_cbor_info_t *
__wrap_fido_cbor_info_new(void)
{
	if (HIT("fido_cbor_info_new", "NULL") >= 0)
		return NULL;
	return __real_fido_cbor_info_new();
}

size_t
__wrap_fido_cbor_info_aaguid_len(const fido_cbor_info_t *ci)
{
	if (HIT("fido_cbor_info_aaguid_len", "0") >= 0)
		return 0;
	return __real_fido_cbor_info_aaguid_len(ci);
}

const unsigned char *
__wrap_fido_cbor_info_aaguid_ptr(const fido_cbor_info_t *ci)
{
	static const unsigned char other[16];

	if (HIT("fido_cbor_info_aaguid_ptr", "another model (zero AAGUID)") >=
	    0)
		return other;
	return __real_fido_cbor_info_aaguid_ptr(ci);
}

int
__wrap_fido_dev_get_retry_count(fido_dev_t *dev, int *retries)
{
	switch (HIT("fido_dev_get_retry_count", "FIDO_ERR_RX",
	    "FIDO_OK, 0 retries", "FIDO_OK, 1 retry")) {
	case 0:
		return FIDO_ERR_RX;
	case 1:
		*retries = 0;
		return FIDO_OK;
	case 2:
		*retries = 1;
		return FIDO_OK;
	}
	return __real_fido_dev_get_retry_count(dev, retries);
}

/* A key that claims to have no PIN: the PIN must not simply be skipped. */
bool
__wrap_fido_dev_has_pin(const fido_dev_t *dev)
{
	if (HIT("fido_dev_has_pin", "false") >= 0)
		return false;
	return __real_fido_dev_has_pin(dev);
}

/* A key that claims built-in user verification it does not have. */
bool
__wrap_fido_dev_has_uv(const fido_dev_t *dev)
{
	if (HIT("fido_dev_has_uv", "true") >= 0)
		return true;
	return __real_fido_dev_has_uv(dev);
}

int
__wrap_fido_dev_set_sigmask(fido_dev_t *dev, const fido_sigset_t *sigmask)
{
	if (HIT("fido_dev_set_sigmask", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_dev_set_sigmask(dev, sigmask);
}

int
__wrap_fido_dev_set_timeout(fido_dev_t *dev, int ms)
{
	if (HIT("fido_dev_set_timeout", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_fido_dev_set_timeout(dev, ms);
}

int
__wrap_fido_assert_verify(const fido_assert_t *a, size_t idx, int cose_alg,
    const void *pk)
{
	switch (HIT("fido_assert_verify", "FIDO_ERR_INVALID_SIG",
	    "FIDO_ERR_INVALID_PARAM", "FIDO_ERR_INVALID_ARGUMENT")) {
	case 0:
		return FIDO_ERR_INVALID_SIG;
	case 1:
		return FIDO_ERR_INVALID_PARAM;
	case 2:
		return FIDO_ERR_INVALID_ARGUMENT;
	}
	return __real_fido_assert_verify(a, idx, cose_alg, pk);
}

es256_pk_t *
__wrap_es256_pk_new(void)
{
	if (HIT("es256_pk_new", "NULL") >= 0)
		return NULL;
	return __real_es256_pk_new();
}

int
__wrap_es256_pk_from_ptr(es256_pk_t *pk, const void *ptr, size_t len)
{
	if (HIT("es256_pk_from_ptr", "FIDO_ERR_INVALID_ARGUMENT") >= 0)
		return FIDO_ERR_INVALID_ARGUMENT;
	return __real_es256_pk_from_ptr(pk, ptr, len);
}

/* A counter of 0: a key that has been copied, or one without a counter. */
uint32_t
__wrap_fido_assert_sigcount(const fido_assert_t *a, size_t i)
{
	if (HIT("fido_assert_sigcount", "0") >= 0)
		return 0;
	return __real_fido_assert_sigcount(a, i);
}

uint8_t
__wrap_fido_assert_flags(const fido_assert_t *a, size_t i)
{
	switch (HIT("fido_assert_flags", "0", "UV without UP")) {
	case 0:
		return 0;
	case 1:
		return 0x04;
	}
	return __real_fido_assert_flags(a, i);
}

const unsigned char *
__wrap_fido_assert_authdata_ptr(const fido_assert_t *a, size_t i)
{
	if (HIT("fido_assert_authdata_ptr", "NULL") >= 0)
		return NULL;
	return __real_fido_assert_authdata_ptr(a, i);
}

size_t
__wrap_fido_assert_authdata_len(const fido_assert_t *a, size_t i)
{
	if (HIT("fido_assert_authdata_len", "0") >= 0)
		return 0;
	return __real_fido_assert_authdata_len(a, i);
}

#endif /* INJECT_SHIM, INJECT_API_ONLY */
