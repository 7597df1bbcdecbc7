# SPDX-License-Identifier: BSD-2-Clause
# pam_mynaguard.so end to end (included by tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/):
#   pam_i18n   the Japanese catalog is complete (msgfmt, xgettext)
#   pam_login  libpamtest under pam_wrapper, software keys: every outcome,
#              its messages (en, ja, ja on a text console) and its event
#   pam_stack  the real stacks: common-auth made by pam-auth-update in a
#              private mount namespace, and the usual pam_faillock stack,
#              run with pamtester
# The ja_JP.UTF-8 locale is made by the pam_locale fixture when missing.

if(NOT TARGET pam_mynaguard OR NOT TARGET softkey-preload)
	message(STATUS "pam tests: pam_mynaguard or softkey missing, skipped")
	return()
endif()
# The libFuzzer build instruments every object for coverage, shared ones
# included, and a coverage-instrumented module cannot be loaded by
# programs built elsewhere (pamtester, python3): these tests run in the
# gcc and the ASan+UBSan builds.
if(MG_FUZZ)
	message(STATUS "pam tests: not in the libFuzzer build")
	return()
endif()

pkg_check_modules(PAMTEST REQUIRED IMPORTED_TARGET libpamtest)
find_library(MG_PAM_WRAPPER_LIB pam_wrapper REQUIRED)
find_program(MG_BASH bash REQUIRED)

set(mg_pam_dir ${CMAKE_CURRENT_SOURCE_DIR}/integration)
set(mg_preload
	"${MG_PAM_WRAPPER_LIB} $<TARGET_FILE:softkey-preload>")
set(mg_pam_env PAM_WRAPPER=1 LANGUAGE= TERM=dumb)
if(MG_SANITIZE)
	# ASan wants to come first in the library list, and pam_wrapper's
	# RTLD_DEEPBIND loading of libpam does not work under it (STYLE 5.8).
	# pam_wrapper 1.1.4 (Debian 12) reads UID_WRAPPER_DISABLE_DEEPBIND,
	# not the PAM_WRAPPER_DISABLE_DEEPBIND of its manual (strings
	# libpam_wrapper.so): set both.  Executables carry clang's static ASan
	# runtime; programs not built here (pamtester) get the shared one
	# preloaded first (pam_stack.sh).
	execute_process(COMMAND ${CMAKE_C_COMPILER}
		-print-file-name=libclang_rt.asan-x86_64.so
		OUTPUT_VARIABLE mg_asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
	list(APPEND mg_pam_env PAM_WRAPPER_DISABLE_DEEPBIND=1
		UID_WRAPPER_DISABLE_DEEPBIND=1
		"ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1"
		"UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
else()
	set(mg_asan_rt "")
endif()

# The locale the Japanese messages need.  Made here when it is missing and
# we may (root); otherwise the tests that need it fail, loudly.
add_test(NAME pam_locale COMMAND ${MG_BASH} ${mg_pam_dir}/pam_i18n.sh
	--locale)
set_tests_properties(pam_locale PROPERTIES FIXTURES_SETUP mg_ja_locale
	TIMEOUT 120)

add_test(NAME pam_i18n COMMAND ${MG_BASH} ${mg_pam_dir}/pam_i18n.sh
	${CMAKE_SOURCE_DIR}/pam_module)
set_tests_properties(pam_i18n PROPERTIES TIMEOUT 60)

add_executable(pam_login ${mg_pam_dir}/pam_login.c
	${mg_pam_dir}/pam_harness.c)
target_include_directories(pam_login PRIVATE ${mg_pam_dir})
# Debian's libpamtest.pc says "Libs: /usr/lib/.../libpamtest.so", which the
# imported target puts among the link options, before the objects, where
# --as-needed drops it: link the flags as libraries too.
target_link_libraries(pam_login PRIVATE mynaguard-login mynaguard-event
	mynaguard-common softkey PkgConfig::PAMTEST ${PAMTEST_LDFLAGS}
	PkgConfig::PAM PkgConfig::LIBFIDO2 mg_warnings)
add_dependencies(pam_login pam_mynaguard softkey-preload pam-translations)

# pam_wrapper refuses to start without the directory; the program fills it.
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/pam_login.d)
add_test(NAME pam_login COMMAND pam_login $<TARGET_FILE:pam_mynaguard>
	${CMAKE_BINARY_DIR}/locale)
set(mg_pam_login_env ${mg_pam_env} "LD_PRELOAD=${mg_preload}"
	PAM_WRAPPER_SERVICE_DIR=${CMAKE_CURRENT_BINARY_DIR}/pam_login.d)
set_tests_properties(pam_login PROPERTIES TIMEOUT 300
	FIXTURES_REQUIRED mg_ja_locale ENVIRONMENT "${mg_pam_login_env}")

add_test(NAME pam_stack COMMAND ${MG_BASH} ${mg_pam_dir}/pam_stack.sh
	$<TARGET_FILE:pam_mynaguard> $<TARGET_FILE:softkey-preload>
	$<TARGET_FILE:pam_login> $<TARGET_FILE:skctl>
	${CMAKE_SOURCE_DIR}/packaging/pam-configs ${MG_PAM_WRAPPER_LIB}
	"${mg_asan_rt}")
set_tests_properties(pam_stack PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
	ENVIRONMENT "${mg_pam_env}")

# The module exports the PAM entry points and nothing else.  Under the
# sanitizers the module needs the ASan runtime of its host program, which
# python3 does not have: the gcc build checks it.
if(NOT MG_SANITIZE)
	add_test(NAME pam_exports COMMAND ${MG_BASH} ${mg_pam_dir}/pam_exports.sh
		$<TARGET_FILE:pam_mynaguard>)
endif()
