# Helpers shared by core, plugins and tests.

# switchboard_plugin(<name> SOURCES ...): builds switchboard-<name>.so into the plugin dir.
function(switchboard_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  set(target switchboard-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE switchboard_api ${ARG_LIBS})
  target_compile_options(${target} PRIVATE ${SB_WARNINGS})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${SB_PLUGIN_OUTPUT_DIR})
  target_link_options(${target} PRIVATE -Wl,-z,defs)
  install(TARGETS ${target} LIBRARY DESTINATION lib/switchboard)
endfunction()
