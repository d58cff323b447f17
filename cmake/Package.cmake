# The Debian package (scripts/package runs CPack's DEB generator on a build tree): binary and
# plugins under /usr, the config as a conffile in /etc/switchboard, the systemd unit, docs,
# example Lua hooks and the man page; maintainer scripts in packaging/deb/.
set(SB_PKG ${CMAKE_BINARY_DIR}/package-files)
set(SB_DOC share/doc/switchboard)

# The packaged config is the default one with its var/ paths under /var/lib/switchboard (the
# unit's StateDirectory and the switchboard user's home).
file(READ ${CMAKE_SOURCE_DIR}/etc/switchboard.yaml SB_YAML)
string(REPLACE "data_dir: var" "data_dir: /var/lib/switchboard" SB_YAML "${SB_YAML}")
string(REPLACE "sqlite:var/" "sqlite:/var/lib/switchboard/" SB_YAML "${SB_YAML}")
string(REPLACE "var/tls/" "/var/lib/switchboard/tls/" SB_YAML "${SB_YAML}")
string(REPLACE "Reference of every key: docs/configuration.md"
               "Reference of every key: /usr/share/doc/switchboard/configuration.md.gz"
               SB_YAML "${SB_YAML}")
file(WRITE ${SB_PKG}/switchboard.yaml "${SB_YAML}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/etc/switchboard.yaml)

# Debian wants docs and man pages compressed with gzip -9n (reproducible), and a
# changelog.Debian.gz in the doc directory.
find_program(GZIP_PROGRAM gzip REQUIRED)
function(sb_gzip source target)
  add_custom_command(OUTPUT ${SB_PKG}/${target}
    COMMAND ${GZIP_PROGRAM} -9nc ${source} > ${SB_PKG}/${target}
    DEPENDS ${source} VERBATIM)
  set_property(GLOBAL APPEND PROPERTY SB_PKG_GZIPPED ${SB_PKG}/${target})
endfunction()
sb_gzip(${CMAKE_SOURCE_DIR}/packaging/deb/switchboard.8 switchboard.8.gz)
sb_gzip(${CMAKE_SOURCE_DIR}/packaging/deb/changelog changelog.Debian.gz)
set(SB_DOCS README.md docs/operations.md docs/configuration.md docs/lua.md docs/security.md
            docs/plugins/pairing.md docs/plugins/auth.md docs/plugins/devices.md
            docs/plugins/signaling.md docs/plugins/messaging.md docs/plugins/webhooks.md)
foreach(doc ${SB_DOCS})
  get_filename_component(name ${doc} NAME)
  sb_gzip(${CMAKE_SOURCE_DIR}/${doc} ${name}.gz)
endforeach()
get_property(SB_GZIPPED GLOBAL PROPERTY SB_PKG_GZIPPED)
add_custom_target(sb_package_files ALL DEPENDS ${SB_GZIPPED})

# 0644 in the package (Debian policy); postinst makes it root:switchboard 0640 (secrets).
install(FILES ${SB_PKG}/switchboard.yaml DESTINATION /etc/switchboard
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${CMAKE_SOURCE_DIR}/etc/switchboard.service DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${SB_PKG}/switchboard.8.gz DESTINATION share/man/man8)
install(FILES ${SB_PKG}/changelog.Debian.gz ${CMAKE_SOURCE_DIR}/packaging/deb/copyright
        DESTINATION ${SB_DOC})
foreach(doc ${SB_DOCS})
  get_filename_component(name ${doc} NAME)
  install(FILES ${SB_PKG}/${name}.gz DESTINATION ${SB_DOC})
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/etc/lua/hooks.lua DESTINATION ${SB_DOC}/examples/lua)
file(GLOB SB_PLUGIN_HOOKS ${CMAKE_SOURCE_DIR}/plugins/*/hooks/*.lua)
install(FILES ${SB_PLUGIN_HOOKS} DESTINATION ${SB_DOC}/examples/lua)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/deb/lintian-overrides
        DESTINATION share/lintian/overrides RENAME switchboard)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "Switchboard maintainers <switchboard@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "one C++ server hosting pairing, devices, auth, signaling and chat as plugins")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Switchboard hosts, as shared-library plugins, TunneLink server pairing codes,\n\
Meeting device enrolment and heartbeats, P2P signaling over WebSocket,\n\
cookie/JWT login with Lua callbacks, a TLS chat protocol and signed webhooks.\n\
It is configured in one YAML file, scripted in Lua and watched through an\n\
admin API with Prometheus metrics.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://switchboard.example.org/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# adduser for the system user; init-system-helpers for deb-systemd-helper/-invoke.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
    ${CMAKE_SOURCE_DIR}/packaging/deb/prerm ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
include(CPack)
