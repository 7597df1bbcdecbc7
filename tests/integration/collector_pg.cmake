# SPDX-License-Identifier: BSD-2-Clause
# Several collectors on one PostgreSQL database (issue 9): a throwaway
# cluster (pgcluster.sh; skipped without Debian's postgresql package), two
# collectors, mg_drain with failover, one collector killed mid-ingest.  The
# _sqlite variant runs the same with one collector on a SQLite file, killed
# and restarted under the sender.
foreach(variant IN ITEMS pg pg_sqlite)
	add_test(NAME collector_${variant} COMMAND bash
		${CMAKE_CURRENT_SOURCE_DIR}/integration/collector_pg.sh
		$<TARGET_FILE:mynaguard-collector> $<TARGET_FILE:mkrecord>
		$<TARGET_FILE:mg_drain> ${CMAKE_SOURCE_DIR})
	set_tests_properties(collector_${variant} PROPERTIES
		SKIP_RETURN_CODE 77 TIMEOUT 900 RUN_SERIAL TRUE)
endforeach()
set_tests_properties(collector_pg_sqlite PROPERTIES ENVIRONMENT
	MG_PG_TEST_SQLITE=1)
