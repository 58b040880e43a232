# The PATCH verb's engine: JSON Patch, JSON merge patch and strategic merge patch (patch.{h,cc});
# see the "Patches" section of README.md. Included by CMakeLists.txt here.
target_sources(kelp_api PRIVATE ${CMAKE_CURRENT_LIST_DIR}/patch.cc)
target_link_libraries(kelp_api PUBLIC kelp_common)

kelp_test(api_patch_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/patch_test.cc
  LIBS kelp_api)

kelp_fuzz_target(patch_fuzz
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/patch_fuzz.cc
  LIBS kelp_api
  CORPUS ${CMAKE_CURRENT_LIST_DIR}/testdata/patch_corpus)
