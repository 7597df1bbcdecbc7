/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_POLICY_INTERNAL_H
#define MYNAGUARD_POLICY_INTERNAL_H

/* Shared between the files of policy/; never included from elsewhere. */

#include "mynaguard/common.h"
#include "mynaguard/policy.h"

enum setop {
	SETOP_EQUALS,		/* also a lone value */
	SETOP_ALL_OF,
	SETOP_ONE_OF,
	SETOP_NONE_OF,
	SETOP_EQUALS_ORDERED,
	SETOP_MATCH_ALL,
};

/* Attributes, in the order usbguard prints them (kind and bus are ours;
 * conditions print between bus and with-connect-type, as usbguard does). */
enum attr {
	ATTR_ID,
	ATTR_SERIAL,
	ATTR_NAME,
	ATTR_HASH,
	ATTR_PARENT_HASH,
	ATTR_VIA_PORT,
	ATTR_WITH_INTERFACE,
	ATTR_KIND,
	ATTR_BUS,
	ATTR_CONNECT_TYPE,
	ATTR_LABEL,
	ATTR_COUNT_
};

enum vtype { VT_ID, VT_STRING, VT_IFACE, VT_KIND, VT_BUS };

struct pol_value {
	union {
		struct {
			uint16_t vid, pid;
			bool vid_any, pid_any;
			char text[10];	/* as written: usbguard keeps case */
		} id;
		struct {
			const char *s;	/* decoded bytes, NUL-terminated */
			size_t len;
		} str;
		struct {
			uint8_t cls, sub, proto;
			bool sub_any, proto_any;
		} iface;
		unsigned kind;	/* bit number of a POL_KIND_* */
		enum pol_bus bus;
	} u;
};

struct pol_attr {
	bool present;
	enum setop op;
	size_t n;
	struct pol_value *v;
};

enum cond_type {
	COND_TRUE,
	COND_FALSE,
	COND_RANDOM,
	COND_LOCALTIME,
	COND_RULE_APPLIED,
	COND_RULE_EVALUATED,
	COND_ALLOWED_MATCHES,
	COND_SEAT_USER,
	COND_SEAT_GROUP,
};

struct pol_rule;

struct pol_cond {
	enum cond_type type;
	bool neg;
	const char *arg;	/* raw text between ( ), NULL when none */
	size_t arg_len;
	union {
		uint64_t threshold;		/* random: true when r < this */
		struct { int32_t from, to; } time;	/* localtime */
		struct { bool any; uint64_t ms; } dur;	/* rule-* */
		struct pol_rule *query;		/* allowed-matches */
		const char *name;		/* seat-* */
	} u;
};

struct pol_rule {
	enum pol_target target;
	unsigned line;
	unsigned index;		/* 1-based; 0 inside allowed-matches() */
	struct pol_attr attr[ATTR_COUNT_];
	bool has_cond;
	enum setop cond_op;
	size_t n_cond;
	struct pol_cond *cond;
	const char *label;	/* label values joined by " / ", or NULL */
};

struct pol_policy {
	struct arena *arena;
	bool rules_only;
	const char *name;
	uint32_t version;
	struct pol_rule **rules;
	size_t n_rules;
	enum pol_target def;
	unsigned def_line;
	struct pol_login login;
	struct pol_reporting reporting;
};

/* A parse position: one line of the text. */
struct lex {
	const char *s;		/* the line (not NUL-terminated) */
	size_t len;
	size_t pos;		/* byte offset in s */
	unsigned line;
	size_t col0;		/* byte offset of s inside its line */
	struct pol_diags *diags;
	struct arena *arena;
	int depth;		/* allowed-matches nesting */
};

/* Record an error at byte offset off of lx's line; returns -EBADMSG. */
int lex_error(struct lex *lx, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diags_add(struct pol_diags *d, unsigned line, unsigned col,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

bool lex_blank(char c);
size_t lex_skip_blanks(struct lex *lx);
/* Length of the keyword at lx->pos ([A-Za-z0-9-]). */
size_t lex_word(const struct lex *lx);
bool lex_word_is(const struct lex *lx, size_t n, const char *w);
/* Parse a "..." string at lx->pos into the arena. */
int lex_string(struct lex *lx, const char **ret, size_t *ret_len);

/* rules.c */
int rule_parse(struct lex *lx, bool query, struct pol_rule **ret);
int target_from_word(const char *s, size_t n, enum pol_target *ret);
const char *target_name(enum pol_target t);
const char *attr_keyword(enum attr a);
const char *kind_name(unsigned bit);
const char *bus_name(enum pol_bus b);
const char *setop_name(enum setop op);

/* cond.c */
int cond_parse(struct lex *lx, struct pol_cond *c);
const char *cond_name(enum cond_type t);
/* A user or group name: [A-Za-z0-9_.@-], 1-64 bytes, no leading '-'. */
bool policy_valid_name(const char *s, size_t len);
int duration_parse(const char *s, size_t len, uint64_t max_ms, uint64_t *ret);
int duration_format(struct sbuf *b, uint64_t ms);

/* show.c */
int show_rule(struct sbuf *b, const struct pol_rule *r, unsigned flags);
int show_string(struct sbuf *b, const char *s, size_t len, unsigned flags);

/* eval.c */
int rule_matches(const struct pol_rule *r, const struct pol_device *dev,
    const struct pol_env *env, unsigned rule_index);

/* history.c */
int history_get(const struct pol_history *h, unsigned index, bool applied,
    uint64_t *ret_ms);
void history_note(struct pol_history *h, unsigned index, bool applied,
    uint64_t ms);

#endif
