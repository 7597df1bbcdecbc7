# SPDX-License-Identifier: BSD-2-Clause
# libmynaguard-login: credentials (own format, file checks, atomic save),
# pam_u2f import, lockout tally (with Debian's faillock(8) as the referee)
# and signature counters.  Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/.
foreach(t cred u2f tally)
	mg_unit_test(test_${t} unit/pam_module/test_${t}.c)
	target_link_libraries(test_${t} PRIVATE mynaguard-login
		PkgConfig::OPENSSL)
endforeach()
# test_tally runs /usr/sbin/faillock (libpam-modules-bin), or MG_FAILLOCK
# from the environment; when it is missing, only that part is skipped.
