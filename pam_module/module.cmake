# SPDX-License-Identifier: BSD-2-Clause
# pam_mynaguard.so, and the same sources as a static library (pmod-core)
# that tests link with -Wl,--wrap failure injection.  The shipped module
# exports only pam_sm_* (version script, -fvisibility=hidden).

set(MG_PAM_LOCALEDIR "${CMAKE_INSTALL_FULL_LOCALEDIR}")
set(MG_PAMDIR "${CMAKE_INSTALL_LIBDIR}/security" CACHE STRING
	"Where pam_mynaguard.so is installed")

set(pmod_sources pam_mynaguard.c fido.c text.c audit.c lockout.c)
add_library(pmod-core STATIC ${pmod_sources})
target_compile_options(pmod-core PRIVATE -fvisibility=hidden)
target_compile_definitions(pmod-core PRIVATE
	PMOD_LOCALEDIR="${MG_PAM_LOCALEDIR}")
target_include_directories(pmod-core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(pmod-core PUBLIC mynaguard-login mynaguard-policy
	mynaguard-event mynaguard-common PkgConfig::LIBFIDO2 PkgConfig::PAM
	PkgConfig::OPENSSL mg_warnings)

add_library(pam_mynaguard MODULE ${pmod_sources})
set_target_properties(pam_mynaguard PROPERTIES PREFIX "" C_VISIBILITY_PRESET
	hidden)
target_compile_definitions(pam_mynaguard PRIVATE
	PMOD_LOCALEDIR="${MG_PAM_LOCALEDIR}")
target_link_libraries(pam_mynaguard PRIVATE mynaguard-login
	mynaguard-policy mynaguard-event mynaguard-common PkgConfig::LIBFIDO2 PkgConfig::PAM PkgConfig::OPENSSL mg_warnings)
target_link_options(pam_mynaguard PRIVATE
	"-Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/pam_mynaguard.map")
# Every symbol resolved at link time, except in sanitizer builds: there the
# ASan runtime comes with the executable that loads the module.
if(NOT MG_SANITIZE AND NOT MG_FUZZ)
	target_link_options(pam_mynaguard PRIVATE -Wl,--no-undefined)
endif()
set_property(TARGET pam_mynaguard APPEND PROPERTY LINK_DEPENDS
	${CMAKE_CURRENT_SOURCE_DIR}/pam_mynaguard.map)
install(TARGETS pam_mynaguard LIBRARY DESTINATION ${MG_PAMDIR})

# Translations: po/<lang>.po -> <build>/locale/<lang>/LC_MESSAGES/.
find_program(MSGFMT msgfmt REQUIRED)
set(mg_mo_files)
foreach(lang ja)
	set(mo ${CMAKE_BINARY_DIR}/locale/${lang}/LC_MESSAGES/mynaguard-pam.mo)
	add_custom_command(OUTPUT ${mo}
		COMMAND ${CMAKE_COMMAND} -E make_directory
			${CMAKE_BINARY_DIR}/locale/${lang}/LC_MESSAGES
		COMMAND ${MSGFMT} --check -o ${mo}
			${CMAKE_CURRENT_SOURCE_DIR}/po/${lang}.po
		DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/po/${lang}.po
		COMMENT "msgfmt ${lang}.po")
	list(APPEND mg_mo_files ${mo})
	install(FILES ${mo} DESTINATION
		${CMAKE_INSTALL_LOCALEDIR}/${lang}/LC_MESSAGES)
endforeach()
add_custom_target(pam-translations ALL DEPENDS ${mg_mo_files})
