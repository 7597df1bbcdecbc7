/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy file: sections, line splitting, error collection, defaults and
 * accessors.  Errors do not stop the parse: each bad line is reported and
 * skipped, so an administrator sees every mistake at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "settings.h"

struct parser {
	struct pol_policy *p;
	struct pol_diags *diags;
	enum section sec;
	unsigned sec_line[SEC_COUNT_];
	uint32_t seen;		/* settings already given */
	size_t rules_cap;
};

static const char *const section_names[SEC_COUNT_] = {
	[SEC_POLICY] = "policy",
	[SEC_DEVICES] = "devices",
	[SEC_LOGIN] = "login",
	[SEC_REPORTING] = "reporting",
};

static void
set_defaults(struct pol_policy *p)
{
	p->def = POL_TARGET_BLOCK;	/* usbguard ImplicitPolicyTarget */
	p->login.key_everyone = true;
	p->login.user_verification = true;
	p->login.lockout_threshold = 5;
	p->login.unlock_after_s = 15 * 60;
	p->login.credentials = POL_CREDENTIALS_DEFAULT;
	p->login.relying_party = POL_RELYING_PARTY_DEFAULT;
	p->login.key_timeout_s = 30;
	p->reporting.buffer_max_bytes = 64ull << 20;
	p->reporting.buffer_max_age_s = 90u * 86400;
}

static int
add_rule(struct parser *ps, struct lex *lx, struct pol_rule *r)
{
	struct pol_policy *p = ps->p;
	struct pol_rule **nv;

	if (p->n_rules >= POL_RULES_MAX)
		return lex_error(lx, 0, "more than %u device rules",
		    POL_RULES_MAX);
	if (p->n_rules == ps->rules_cap) {
		ps->rules_cap = ps->rules_cap ? ps->rules_cap * 2 : 16;
		nv = arena_alloc(p->arena, ps->rules_cap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		if (p->n_rules > 0)
			memcpy(nv, p->rules, p->n_rules * sizeof(*nv));
		p->rules = nv;
	}
	r->index = (unsigned)p->n_rules + 1;
	p->rules[p->n_rules++] = r;
	return 0;
}

static int
parse_rule_line(struct parser *ps, struct lex *lx)
{
	struct pol_rule *r = NULL;
	int rc;

	if ((rc = rule_parse(lx, false, &r)) < 0)
		return rc;
	return add_rule(ps, lx, r);
}

static int
parse_default(struct parser *ps, struct lex *lx)
{
	size_t at = lx->pos, n;
	enum pol_target t;

	if (ps->p->def_line != 0)
		return lex_error(lx, at, "default already given on line %u",
		    ps->p->def_line);
	/* Even a bad default line counts as given: no second error for it. */
	ps->p->def_line = lx->line;
	lx->pos += 7;
	if (lex_skip_blanks(lx) == 0)
		return lex_error(lx, lx->pos, "expected a target after default");
	n = lex_word(lx);
	if (target_from_word(lx->s + lx->pos, n, &t) < 0 ||
	    t == POL_TARGET_MATCH || t == POL_TARGET_DEVICE)
		return lex_error(lx, lx->pos, "default must be allow, block, "
		    "reject or read-only");
	lx->pos += n;
	lex_skip_blanks(lx);
	if (lx->pos < lx->len && lx->s[lx->pos] != '#')
		return lex_error(lx, lx->pos, "unexpected text after default");
	ps->p->def = t;
	return 0;
}

static int
parse_header(struct parser *ps, struct lex *lx)
{
	size_t at = lx->pos, n, i;

	lx->pos++;
	n = lex_word(lx);
	for (i = 1; i < SEC_COUNT_; i++)
		if (lex_word_is(lx, n, section_names[i]))
			break;
	if (i == SEC_COUNT_ || lx->pos + n >= lx->len ||
	    lx->s[lx->pos + n] != ']')
		return lex_error(lx, at, "unknown section: expected [policy], "
		    "[devices], [login] or [reporting]");
	lx->pos += n + 1;
	/* Enter the section even when the line is bad, so that its lines are
	 * still checked and no second error follows from this one. */
	ps->sec = (enum section)i;
	if (ps->sec_line[i] != 0)
		return lex_error(lx, at, "section [%s] already began on line "
		    "%u", section_names[i], ps->sec_line[i]);
	ps->sec_line[i] = lx->line;
	lex_skip_blanks(lx);
	if (lx->pos < lx->len && lx->s[lx->pos] != '#')
		return lex_error(lx, lx->pos, "unexpected text after ]");
	return 0;
}

static int
parse_line(struct parser *ps, struct lex *lx)
{
	size_t n;

	if (ps->p->rules_only)
		return parse_rule_line(ps, lx);
	if (lx->s[lx->pos] == '[')
		return parse_header(ps, lx);
	switch (ps->sec) {
	case SEC_NONE:
		return lex_error(lx, lx->pos, "expected a [section] first");
	case SEC_DEVICES:
		n = lex_word(lx);
		if (lex_word_is(lx, n, "default"))
			return parse_default(ps, lx);
		return parse_rule_line(ps, lx);
	default:
		return setting_parse(lx, ps->sec, ps->p, &ps->seen);
	}
}

/* Does any line start (after blanks) with '['? */
static bool
has_sections(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i < len && buf[i] == '[')
			return true;
		while (i < len && buf[i] != '\n')
			i++;
		i++;
	}
	return false;
}

static void
error_at(struct pol_diags *d, unsigned line, unsigned col, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
error_at(struct pol_diags *d, unsigned line, unsigned col, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_add(d, line, col, fmt, ap);
	va_end(ap);
}

static int
check_encoding(const char *buf, size_t len, struct pol_diags *d)
{
	size_t bad, i, line_start = 0;
	unsigned line = 1;

	if (utf8_validate(buf, len, &bad) == 0)
		return 0;
	for (i = 0; i < bad; i++)
		if (buf[i] == '\n') {
			line++;
			line_start = i + 1;
		}
	error_at(d, line, (unsigned)utf8_count(buf + line_start,
	    bad - line_start) + 1, "invalid UTF-8 (the policy must be "
	    "saved as UTF-8, not Shift_JIS)");
	return -EBADMSG;
}

static int
parse_lines(struct parser *ps, const char *buf, size_t len)
{
	struct lex lx = { .diags = ps->diags, .arena = ps->p->arena };
	size_t i = 0, end;
	int r;

	while (i < len) {
		lx.line++;
		for (end = i; end < len && buf[end] != '\n'; end++)
			;
		lx.s = buf + i;
		lx.len = end - i;
		lx.col0 = 0;
		lx.pos = 0;
		i = end + 1;
		if (lx.len > 0 && lx.s[lx.len - 1] == '\r')
			lx.len--;	/* CRLF from Windows editors */
		if (lx.len > POL_LINE_MAX) {
			lex_error(&lx, POL_LINE_MAX, "line longer than %u "
			    "bytes", POL_LINE_MAX);
			continue;
		}
		lex_skip_blanks(&lx);
		if (lx.pos == lx.len || lx.s[lx.pos] == '#')
			continue;
		r = parse_line(ps, &lx);
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

static void
check_complete(struct parser *ps, unsigned last_line)
{
	if (ps->p->rules_only)
		return;
	if (ps->sec_line[SEC_DEVICES] == 0)
		error_at(ps->diags, last_line, 1, "missing [devices] section");
	else if (ps->p->def_line == 0)
		error_at(ps->diags, ps->sec_line[SEC_DEVICES], 1, "[devices] "
		    "needs a default line, such as \"default read-only\"");
}

/* Errors come from several passes; show them in file order. */
static void
sort_diags(struct pol_diags *d)
{
	struct pol_diag tmp;
	size_t i, j;

	for (i = 1; i < d->n; i++) {
		tmp = d->d[i];
		for (j = i; j > 0 && (d->d[j - 1].line > tmp.line ||
		    (d->d[j - 1].line == tmp.line && d->d[j - 1].col > tmp.col));
		    j--)
			d->d[j] = d->d[j - 1];
		d->d[j] = tmp;
	}
}

static unsigned
count_lines(const char *buf, size_t len)
{
	unsigned n = 1;
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && i + 1 < len)
			n++;
	return n;
}

int
pol_policy_parse(const char *buf, size_t len, struct pol_diags *diags,
    struct pol_policy **ret)
{
	struct pol_diags *local = NULL;
	struct parser ps = { 0 };
	struct pol_policy *p = NULL;
	int r;

	if ((buf == NULL && len > 0) || ret == NULL)
		return -EINVAL;
	if (diags == NULL) {
		/* Errors must still be counted; the caller does not want them. */
		diags = local = calloc(1, sizeof(*local));
		if (local == NULL)
			return -ENOMEM;
	}
	memset(diags, 0, sizeof(*diags));
	if (len > POL_TEXT_MAX) {
		error_at(diags, 1, 1, "policy larger than %u bytes",
		    POL_TEXT_MAX);
		r = -E2BIG;
		goto out;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;	/* a BOM, as Windows Notepad writes */
		len -= 3;
	}
	if ((r = check_encoding(buf, len, diags)) < 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL || arena_new(&p->arena) < 0) {
		r = -ENOMEM;
		goto out;
	}
	set_defaults(p);
	p->rules_only = !has_sections(buf, len);
	ps.p = p;
	ps.diags = diags;
	if ((r = parse_lines(&ps, buf, len)) < 0)
		goto out;
	check_complete(&ps, count_lines(buf, len));
	sort_diags(diags);
	if (diags->n_total > 0) {
		r = -EBADMSG;
		goto out;
	}
	*ret = p;
	p = NULL;
	r = 0;
out:
	pol_policy_free(p);
	free(local);
	return r;
}

void
pol_policy_free(struct pol_policy *p)
{
	if (p == NULL)
		return;
	arena_free(p->arena);
	free(p);
}

bool
pol_policy_is_rules_only(const struct pol_policy *p)
{
	return p != NULL && p->rules_only;
}

size_t
pol_policy_rule_count(const struct pol_policy *p)
{
	return p != NULL ? p->n_rules : 0;
}

const struct pol_login *
pol_policy_login(const struct pol_policy *p)
{
	return p != NULL ? &p->login : NULL;
}

const struct pol_reporting *
pol_policy_reporting(const struct pol_policy *p)
{
	return p != NULL ? &p->reporting : NULL;
}

const char *
pol_policy_name(const struct pol_policy *p)
{
	return p != NULL ? p->name : NULL;
}

uint32_t
pol_policy_version(const struct pol_policy *p)
{
	return p != NULL ? p->version : 0;
}

const char *
pol_verdict_name(enum pol_verdict v)
{
	switch (v) {
	case POL_VERDICT_ALLOW:
		return "allow";
	case POL_VERDICT_READ_ONLY:
		return "read-only";
	case POL_VERDICT_BLOCK:
		return "block";
	case POL_VERDICT_REJECT:
		return "reject";
	}
	return "?";
}
