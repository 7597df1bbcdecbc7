# SPDX-License-Identifier: BSD-2-Clause
# The tamper-evident store end to end (issue 9): a real collector signing
# checkpoints, "mynaguard-review checkpoint" and "verify --checkpoint" on
# its database, the proofs checked by merkle_ref.py, and an insider's edits
# caught.  ledger_verify on a SQLite file; ledger_verify_pg on a throwaway
# PostgreSQL cluster (skipped without Debian's postgresql package).
if(TARGET mynaguard-review AND TARGET mkrecord)
	foreach(variant IN ITEMS ledger_verify ledger_verify_pg)
		add_test(NAME ${variant} COMMAND bash
			${CMAKE_CURRENT_LIST_DIR}/ledger_verify.sh
			$<TARGET_FILE:mynaguard-review>
			$<TARGET_FILE:mynaguard-collector>
			$<TARGET_FILE:mkrecord> ${CMAKE_SOURCE_DIR})
		set_tests_properties(${variant} PROPERTIES SKIP_RETURN_CODE 77
			TIMEOUT 600)
	endforeach()
	set_tests_properties(ledger_verify_pg PROPERTIES ENVIRONMENT
		MG_TEST_PG=1 RUN_SERIAL TRUE)
endif()
