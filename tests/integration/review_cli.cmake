# SPDX-License-Identifier: BSD-2-Clause
# mynaguard-review: its formatting (unit) and the tool against a real
# collector over loopback TLS with mkcerts.sh certificates and mkrecord
# records (integration; 77 while the collector has no review API).
# Included from tests/CMakeLists.txt after the collector tests (mkrecord);
# nothing is added until review/ builds mynaguard-review.
if(NOT TARGET mynaguard-review)
	return()
endif()
mg_unit_test(test_review_format
	${CMAKE_CURRENT_LIST_DIR}/../unit/review/test_format.c)
target_link_libraries(test_review_format PRIVATE mynaguard-review-core)

add_test(NAME review_cli COMMAND bash
	${CMAKE_CURRENT_LIST_DIR}/review_cli.sh
	$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mynaguard-collector>
	$<TARGET_FILE:mkrecord> ${CMAKE_SOURCE_DIR})
set_tests_properties(review_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
# The same on PostgreSQL (issue 9): a throwaway cluster of its own.
add_test(NAME review_cli_pg COMMAND env MG_TEST_PG=1 bash
	${CMAKE_CURRENT_LIST_DIR}/review_cli.sh
	$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mynaguard-collector>
	$<TARGET_FILE:mkrecord> ${CMAKE_SOURCE_DIR})
set_tests_properties(review_cli_pg PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
