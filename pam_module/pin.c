/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What can be a PIN.  CTAP2 PINs are UTF-8 of 4 to 63 bytes; this module
 * takes printable ASCII only, and refuses anything else before it reaches
 * the key.  The common mistake on a Japanese desktop is typing the PIN with
 * the input method on: "１２３４" (U+FF11..) is a valid UTF-8 string, the
 * key counts it as a wrong PIN and a retry is lost for nothing.  Keys are
 * enrolled with ASCII PINs (mynaguard key enroll uses this same check).
 */
#include <stdlib.h>
#include <string.h>

#include "mynaguard/login.h"

enum pmod_pin_check
pmod_pin_check(const char *pin)
{
	size_t i, n;

	if (pin == NULL || pin[0] == '\0')
		return PMOD_PIN_EMPTY;
	n = strnlen(pin, PMOD_PIN_MAX + 1);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)pin[i];

		if (ch >= 0x80)
			return PMOD_PIN_WIDE;
		if (ch < 0x20 || ch == 0x7f)
			return PMOD_PIN_CONTROL;
	}
	if (n > PMOD_PIN_MAX)
		return PMOD_PIN_LONG;
	if (n < PMOD_PIN_MIN)
		return PMOD_PIN_SHORT;
	return PMOD_PIN_OK;
}

/* PINs come from the conversation function (malloc'ed): wipe, then free. */
void
pmod_pin_free(char *pin)
{
	if (pin == NULL)
		return;
	explicit_bzero(pin, strlen(pin));
	free(pin);
}
