#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# NOT mynaguard: a stand-in enforcer used only by `run-e2e.sh --fake-enforcer` to check that
# the e2e checks themselves can pass and can fail. Installed through fake-enforcer.rules.in.
#   fake-enforcer.sh usb SYSPATH     authorize every USB device except usb-mtp (46f4:0004)
#   fake-enforcer.sh block DEVNODE   BLKROSET the disk unless its serial is REG0001
case $1 in
usb)
	id=$(cat "$2/idVendor"):$(cat "$2/idProduct")
	[ "$id" = 46f4:0004 ] || echo 1 >"$2/authorized"
	;;
block)
	[ "${ID_SERIAL_SHORT:-}" = REG0001 ] || blockdev --setro "$2"
	;;
esac
exit 0
