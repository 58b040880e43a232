# Server-side Table printing (printers.{h,cc}) and the AGE format (duration.{h,cc}); see the
# "Table printing" section of README.md. Included by CMakeLists.txt here.
target_sources(kelp_api PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/duration.cc
  ${CMAKE_CURRENT_LIST_DIR}/printers.cc)
target_link_libraries(kelp_api PUBLIC kelp_common)

kelp_test(api_printers_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/duration_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/printers_test.cc
  LIBS kelp_api)
