# SPDX-License-Identifier: BSD-2-Clause
# Central signed policy (issue 8), the collector's part: the bundle store
# and the v2 -> v3 migration (unit), publish, fetch and the versions in
# force over loopback TLS with real certificates and bundles (integration).
mg_unit_test(test_coll_policy unit/collector/test_policy.c
	${CMAKE_CURRENT_SOURCE_DIR}/unit/testkeys.c)
target_link_libraries(test_coll_policy PRIVATE mynaguard-collector-core
	PkgConfig::OPENSSL PkgConfig::SQLITE3)
target_include_directories(test_coll_policy PRIVATE
	${CMAKE_SOURCE_DIR}/collector)
add_test(NAME collector_policy COMMAND bash
	${CMAKE_CURRENT_SOURCE_DIR}/integration/collector_policy.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	$<TARGET_FILE:mynaguard> $<TARGET_FILE:mynaguard-review>
	${CMAKE_SOURCE_DIR})
set_tests_properties(collector_policy PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
# The same on PostgreSQL (issue 9): a throwaway cluster of its own.
add_test(NAME collector_policy_pg COMMAND env MG_TEST_PG=1 bash
	${CMAKE_CURRENT_SOURCE_DIR}/integration/collector_policy.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	$<TARGET_FILE:mynaguard> $<TARGET_FILE:mynaguard-review>
	${CMAKE_SOURCE_DIR})
set_tests_properties(collector_policy_pg PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
