# SPDX-License-Identifier: BSD-2-Clause
# pam_sm_authenticate() with every call it makes into another object or
# library failed in turn (-Wl,--wrap, inject_wrap.c): never PAM_IGNORE,
# never a success outside the benign list, no crash, no leak (under ASan
# each child process is leak-checked).  Included from tests/CMakeLists.txt,
# so CMAKE_CURRENT_SOURCE_DIR is tests/.
if(TARGET pmod-core AND TARGET softkey)
	set(mg_inject_wrapped
		# memory
		malloc calloc realloc strdup asprintf __asprintf_chk
		# PAM and the user database
		pam_get_user pam_get_item pam_prompt pam_getenv
		pam_modutil_getpwnam pam_modutil_getgrgid getgrouplist
		# OpenSSL
		RAND_bytes SHA256 EVP_Digest
		# our libraries
		file_read_all pol_policy_parse pol_login_is_break_glass
		pol_login_requires_key pmod_creds_load pmod_creds_for_user
		pmod_cred_id_hash pmod_tally_state pmod_tally_record
		pmod_tally_reset pmod_counter_get pmod_counter_set
		mg_submit_event
		# libfido2
		fido_dev_info_new fido_dev_info_manifest fido_dev_new_with_info
		fido_dev_open_with_info fido_assert_new fido_assert_set_rp
		fido_assert_set_clientdata_hash fido_assert_allow_cred
		fido_assert_set_up fido_assert_set_uv fido_dev_get_assert
		fido_assert_count fido_assert_id_ptr fido_assert_id_len
		fido_dev_get_cbor_info fido_cbor_info_new
		fido_cbor_info_aaguid_len fido_cbor_info_aaguid_ptr
		fido_dev_get_retry_count fido_dev_has_pin fido_dev_has_uv
		fido_dev_set_sigmask fido_dev_set_timeout fido_assert_verify
		es256_pk_new es256_pk_from_ptr fido_assert_sigcount
		fido_assert_flags fido_assert_authdata_ptr
		fido_assert_authdata_len)
	list(TRANSFORM mg_inject_wrapped PREPEND "-Wl,--wrap="
		OUTPUT_VARIABLE mg_inject_link)

	# pam_authenticate() -> this shim -> the module's pam_sm_authenticate()
	# in the test (Linux-PAM refuses pam_set_data() to an application).
	add_library(pam_inject_shim MODULE
		${CMAKE_CURRENT_SOURCE_DIR}/unit/pam_module/inject_wrap.c)
	set_target_properties(pam_inject_shim PROPERTIES PREFIX "")
	target_compile_definitions(pam_inject_shim PRIVATE INJECT_SHIM)
	target_link_libraries(pam_inject_shim PRIVATE PkgConfig::PAM
		PkgConfig::LIBFIDO2 mg_warnings)

	add_executable(test_inject
		${CMAKE_CURRENT_SOURCE_DIR}/unit/pam_module/test_inject.c
		${CMAKE_CURRENT_SOURCE_DIR}/unit/pam_module/inject_wrap.c)
	target_include_directories(test_inject PRIVATE
		${CMAKE_CURRENT_SOURCE_DIR}/unit/pam_module)
	target_link_libraries(test_inject PRIVATE pmod-core softkey
		mynaguard-login mynaguard-common PkgConfig::LIBFIDO2
		PkgConfig::PAM PkgConfig::OPENSSL mg_warnings)
	target_compile_definitions(test_inject PRIVATE
		INJECT_SHIM_PATH="$<TARGET_FILE:pam_inject_shim>")
	target_link_options(test_inject PRIVATE ${mg_inject_link})
	add_dependencies(test_inject pam_inject_shim)
	add_test(NAME test_inject COMMAND test_inject)
	# About 1000 child processes (8 scenarios), g_jobs at a time.
	set_tests_properties(test_inject PROPERTIES SKIP_RETURN_CODE 77
		TIMEOUT 900)
else()
	message(WARNING "test_inject not built: include inject.cmake after "
		"pam_module/ and tests/softkey are added")
endif()
