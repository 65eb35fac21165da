# The Debian package (`cpack -G DEB` in the build folder, or scripts/package.sh): loyaltyd and
# loyaltyctl in /usr/bin, a hardened systemd unit, /etc/loyalty/server.toml and program.toml as
# conffiles, and the docs. Dependencies are found by dpkg-shlibdeps from the binaries.
include(GNUInstallDirs)
install(TARGETS loyaltyd loyaltyctl RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/ops/packaging/loyaltyd.service
        DESTINATION lib/systemd/system)

# The shipped configuration, with the paths of an installed server.
file(READ ${PROJECT_SOURCE_DIR}/config/server.toml packaged_server_toml)
string(REGEX REPLACE "\ndata_dir = \"[^\"]*\"" "\ndata_dir = \"/var/lib/loyalty/data\""
       packaged_server_toml "${packaged_server_toml}")
string(REGEX REPLACE "\nprogram = \"[^\"]*\"" "\nprogram = \"/etc/loyalty/program.toml\""
       packaged_server_toml "${packaged_server_toml}")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/server.toml "${packaged_server_toml}")
install(FILES ${PROJECT_BINARY_DIR}/packaging/server.toml
              ${PROJECT_SOURCE_DIR}/config/program.toml
        DESTINATION /etc/loyalty)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/api.md
              ${PROJECT_SOURCE_DIR}/docs/openapi.json ${PROJECT_SOURCE_DIR}/docs/cluster.md
              ${PROJECT_SOURCE_DIR}/docs/decisions.md
        DESTINATION share/doc/loyalty-engine)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME loyalty-engine)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Loyalty Engine maintainers <maintainers@loyalty-engine.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "loyalty and membership points engine (server and tools)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/ops/packaging/conffiles ${PROJECT_SOURCE_DIR}/ops/packaging/postinst
    ${PROJECT_SOURCE_DIR}/ops/packaging/prerm ${PROJECT_SOURCE_DIR}/ops/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
