#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Regenerate pam_module/po/mynaguard-pam.pot from the module's sources and
# merge it into every translation (pam_module/po/*.po).  Then translate
# what msgfmt --statistics reports as untranslated or fuzzy: the test
# pam_i18n fails while any message is.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)/pam_module"
xgettext --language=C --from-code=UTF-8 --keyword=pmod_text:2 \
    --keyword=pmod_ntext:2,3 --keyword=N_ --package-name=mynaguard \
    --msgid-bugs-address=security@town.example --add-location=file \
    -o po/mynaguard-pam.pot ./*.c
for po in po/*.po; do
	msgmerge --quiet --update --backup=none --add-location=file "$po" \
	    po/mynaguard-pam.pot
	printf '%s: ' "$po"
	msgfmt --check --statistics -o /dev/null "$po"
done
