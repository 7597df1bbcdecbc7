#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The Japanese catalog of pam_mynaguard.so is complete:
#  - msgfmt --check --statistics: no untranslated or fuzzy message, formats
#    that match their msgid;
#  - every msgid xgettext finds in pam_module/*.c (keywords pmod_text:2,
#    pmod_ntext:2,3 and N_) is in ja.po, plural forms included.
# Messages of ja.po that the sources no longer use are reported, not
# failed.
#
# usage: pam_i18n.sh PAM_MODULE_SOURCE_DIR
#        pam_i18n.sh --locale   make ja_JP.UTF-8 when it is missing (the
#                               pam_login test needs it; fails loudly when
#                               it cannot be made)
set -u

if [ "${1:-}" = --locale ]; then
	locale -a | grep -qix 'ja_JP.utf-\?8' && exit 0
	if localedef -i ja_JP -f UTF-8 ja_JP.UTF-8 &&
	    locale -a | grep -qix 'ja_JP.utf-\?8'; then
		echo "made the locale ja_JP.UTF-8"
		exit 0
	fi
	echo "FAIL: the locale ja_JP.UTF-8 is missing and cannot be made." \
	    "As root: localedef -i ja_JP -f UTF-8 ja_JP.UTF-8 (package" \
	    "locales), or uncomment it in /etc/locale.gen and run" \
	    "locale-gen" >&2
	exit 1
fi

src=${1:?usage: pam_i18n.sh PAM_MODULE_SOURCE_DIR}
po=$src/po/ja.po
fail=0
tmp=$(mktemp -d /tmp/mg-i18n.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

for tool in msgfmt xgettext msgcmp msgattrib; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool is missing (package gettext)" >&2
		exit 1
	fi
done

# 1. Statistics and format checks.
if ! LC_ALL=C msgfmt --check --statistics -o "$tmp/ja.mo" "$po" \
    2>"$tmp/stats"; then
	cat "$tmp/stats" >&2
	echo "FAIL: msgfmt --check $po" >&2
	fail=1
fi
cat "$tmp/stats"
if grep -Eq 'untranslated|fuzzy' "$tmp/stats"; then
	echo "FAIL: $po has untranslated or fuzzy messages:" >&2
	msgattrib --untranslated --only-fuzzy "$po" 2>/dev/null >&2
	msgattrib --untranslated "$po" 2>/dev/null | grep '^msgid "[^"]' >&2
	fail=1
fi
if ! grep -Eq '^[0-9]+ translated message' "$tmp/stats"; then
	echo "FAIL: no translated messages in $po" >&2
	fail=1
fi

# 2. Every message of the sources is in the catalog.
if ! xgettext --language=C --from-code=UTF-8 --no-wrap --omit-header \
    --keyword= --keyword=pmod_text:2 --keyword=pmod_ntext:2,3 \
    --keyword=N_ -o "$tmp/src.pot" "$src"/*.c; then
	echo "FAIL: xgettext" >&2
	exit 1
fi
n_src=$(grep -c '^msgid "[^"]' "$tmp/src.pot")
echo "$n_src messages in $src/*.c"
if [ "$n_src" -lt 20 ]; then
	echo "FAIL: xgettext found only $n_src messages: keywords wrong?" >&2
	fail=1
fi
# msgcmp: each msgid of the template must have a translation in ja.po.
if ! msgcmp "$po" "$tmp/src.pot" 2>"$tmp/cmp"; then
	sed 's/^/  /' "$tmp/cmp" >&2
	echo "FAIL: messages of the sources missing from $po" >&2
	fail=1
fi
# Plural forms must match too (msgcmp compares msgid only).
xgettext_plurals=$(msgattrib --no-wrap "$tmp/src.pot" |
    awk '/^msgid_plural/' | sort)
po_plurals=$(msgattrib --no-wrap "$po" | awk '/^msgid_plural/' | sort)
missing=$(comm -23 <(echo "$xgettext_plurals") <(echo "$po_plurals"))
if [ -n "$missing" ]; then
	echo "FAIL: plural forms missing from $po:" >&2
	echo "$missing" >&2
	fail=1
fi

# 3. Stale entries: reported only.
msgids() {
	msgattrib --no-wrap --no-obsolete "$1" | awk '/^msgid "[^"]/' | sort -u
}
stale=$(comm -13 <(msgids "$tmp/src.pot") <(msgids "$po"))
if [ -n "$stale" ]; then
	echo "note: messages of $po no longer in the sources:"
	echo "$stale" | sed 's/^/  /'
fi

[ "$fail" -eq 0 ] && echo "pam_i18n: ok"
exit "$fail"
