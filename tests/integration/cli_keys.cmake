# SPDX-License-Identifier: BSD-2-Clause
# mynaguard key and login commands against software FIDO2 keys
# (tests/softkey: skctl and the LD_PRELOAD shim), without an agent.
# Included from tests/CMakeLists.txt after add_subdirectory(softkey); the
# script skips (77) when the softkey targets are not there.
if(TARGET softkey-preload AND TARGET skctl)
	set(mg_softkey_preload $<TARGET_FILE:softkey-preload>)
	set(mg_skctl $<TARGET_FILE:skctl>)
else()
	set(mg_softkey_preload none)
	set(mg_skctl none)
endif()
add_test(NAME cli_keys COMMAND bash
	${CMAKE_CURRENT_LIST_DIR}/cli_keys.sh $<TARGET_FILE:mynaguard>
	${mg_skctl} ${mg_softkey_preload} ${CMAKE_SOURCE_DIR})
set_tests_properties(cli_keys PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
	ENVIRONMENT "ASAN_OPTIONS=verify_asan_link_order=0")
