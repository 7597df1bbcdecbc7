# SPDX-License-Identifier: BSD-2-Clause
# libmynaguard-login.a: enrolled credentials (our file format and pam_u2f
# import), the lockout tally in pam_faillock's format, signature counters.
# Static and PIC: linked into pam_mynaguard.so and the mynaguard CLI.
add_library(mynaguard-login STATIC
	${CMAKE_CURRENT_LIST_DIR}/b64.c
	${CMAKE_CURRENT_LIST_DIR}/counter.c
	${CMAKE_CURRENT_LIST_DIR}/cred.c
	${CMAKE_CURRENT_LIST_DIR}/credfile.c
	${CMAKE_CURRENT_LIST_DIR}/pin.c
	${CMAKE_CURRENT_LIST_DIR}/tally.c
	${CMAKE_CURRENT_LIST_DIR}/u2f.c)
target_include_directories(mynaguard-login PUBLIC
	${CMAKE_CURRENT_LIST_DIR}/include)
# login.h uses struct sbuf, so common is part of the interface.
target_link_libraries(mynaguard-login PUBLIC mynaguard-common
	PkgConfig::OPENSSL PRIVATE mg_warnings)
set_target_properties(mynaguard-login PROPERTIES POSITION_INDEPENDENT_CODE ON)

if(COMMAND mg_add_fuzz_target)
	mg_add_fuzz_target(cred_file ${CMAKE_CURRENT_LIST_DIR}/fuzz_cred.c
		mynaguard-login)
	mg_add_fuzz_target(u2f_authfile ${CMAKE_CURRENT_LIST_DIR}/fuzz_u2f.c
		mynaguard-login)
endif()
