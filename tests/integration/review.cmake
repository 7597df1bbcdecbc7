# SPDX-License-Identifier: BSD-2-Clause
# The collector's review API (docs/review-api.md): the query planner
# uses the indexes (unit), and every endpoint over loopback TLS with real
# certificates and records (integration).
mg_unit_test(test_coll_review unit/collector/test_review.c)
target_link_libraries(test_coll_review PRIVATE mynaguard-collector-core
	PkgConfig::SQLITE3 PkgConfig::MHD)
target_include_directories(test_coll_review PRIVATE
	${CMAKE_SOURCE_DIR}/collector)
add_test(NAME collector_review COMMAND bash
	${CMAKE_CURRENT_SOURCE_DIR}/integration/collector_review.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	${CMAKE_SOURCE_DIR})
set_tests_properties(collector_review PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
# The same on PostgreSQL (issue 9): a throwaway cluster of its own.
add_test(NAME collector_review_pg COMMAND env MG_TEST_PG=1 bash
	${CMAKE_CURRENT_SOURCE_DIR}/integration/collector_review.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	${CMAKE_SOURCE_DIR})
set_tests_properties(collector_review_pg PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
