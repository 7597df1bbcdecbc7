# SPDX-License-Identifier: BSD-2-Clause
# The self-inspection report: its rules and HTML escaping (unit), and
# GET /v1/review/summary plus "mynaguard-review report" against a real
# collector with a known event set (integration).  Included from
# tests/CMakeLists.txt after review_cli.cmake (mkrecord, mg_unit_test).
if(NOT TARGET mynaguard-review)
	return()
endif()
mg_unit_test(test_review_report
	${CMAKE_CURRENT_LIST_DIR}/../unit/review/test_report.c)
target_link_libraries(test_review_report PRIVATE mynaguard-review-core)

add_test(NAME review_report COMMAND bash
	${CMAKE_CURRENT_LIST_DIR}/review_report.sh
	$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mynaguard-collector>
	$<TARGET_FILE:mkrecord> ${CMAKE_SOURCE_DIR})
set_tests_properties(review_report PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
# The same on PostgreSQL (issue 9): a throwaway cluster of its own.
add_test(NAME review_report_pg COMMAND env MG_TEST_PG=1 bash
	${CMAKE_CURRENT_LIST_DIR}/review_report.sh
	$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mynaguard-collector>
	$<TARGET_FILE:mkrecord> ${CMAKE_SOURCE_DIR})
set_tests_properties(review_report_pg PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 300)
