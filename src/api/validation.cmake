# Validation, defaulting, selectors and quantities (see README.md, "Validation, defaulting and
# selectors"); included by CMakeLists.txt here.
target_sources(kelp_api PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/defaults.cc
  ${CMAKE_CURRENT_LIST_DIR}/quantity.cc
  ${CMAKE_CURRENT_LIST_DIR}/selectors.cc
  ${CMAKE_CURRENT_LIST_DIR}/validation.cc
)
target_link_libraries(kelp_api PUBLIC kelp_common)

kelp_test(api_validation_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/defaults_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/quantity_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/selectors_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/validation_test.cc
  LIBS kelp_api)

kelp_fuzz_target(selectors_fuzz
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/selectors_fuzz.cc
  LIBS kelp_api
  CORPUS ${CMAKE_CURRENT_LIST_DIR}/testdata/selector_corpus)
