# SPDX-License-Identifier: BSD-2-Clause
# The reviewer's web page (collector/web.c) in headless Chromium with
# puppeteer-core: load, filter, an event whose device serial is an XSS
# attempt, a timeline, and the role rule.  The screenshot of the hostile
# event is kept as ${CMAKE_BINARY_DIR}/review_web/screenshot.png.
# Included from tests/CMakeLists.txt after the collector tests (mkrecord).
# The first run on a fresh machine may install packages (as root) and
# puppeteer-core (into /var/tmp/mynaguard-npm): hence the long timeout.
add_test(NAME review_web COMMAND bash
	${CMAKE_CURRENT_LIST_DIR}/review_web.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/review_web)
set_tests_properties(review_web PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
	LABELS "browser")
# The same on PostgreSQL (issue 9): a throwaway cluster of its own.
add_test(NAME review_web_pg COMMAND env MG_TEST_PG=1 bash
	${CMAKE_CURRENT_LIST_DIR}/review_web.sh
	$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
	${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/review_web_pg)
set_tests_properties(review_web_pg PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
	LABELS "browser")
