# SPDX-License-Identifier: BSD-2-Clause
# mynaguard-review verify on hand-made exports (mkcerts.sh certificates,
# mkrecord records, NDJSON from python3) and end to end against the
# collector's /v1/review/export.  Included from tests/CMakeLists.txt after
# mkrecord is defined; nothing is added until review/ builds
# mynaguard-review.
if(TARGET mynaguard-review)
	add_test(NAME review_verify COMMAND bash
		${CMAKE_CURRENT_LIST_DIR}/review_verify.sh
		$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mkrecord>
		${CMAKE_SOURCE_DIR} $<TARGET_FILE:mynaguard-collector>)
	set_tests_properties(review_verify PROPERTIES SKIP_RETURN_CODE 77
		TIMEOUT 300)
	# The end-to-end case on PostgreSQL (issue 9): a cluster of its own.
	add_test(NAME review_verify_pg COMMAND env MG_TEST_PG=1 bash
		${CMAKE_CURRENT_LIST_DIR}/review_verify.sh
		$<TARGET_FILE:mynaguard-review> $<TARGET_FILE:mkrecord>
		${CMAKE_SOURCE_DIR} $<TARGET_FILE:mynaguard-collector>)
	set_tests_properties(review_verify_pg PROPERTIES SKIP_RETURN_CODE 77
		TIMEOUT 300)
endif()
