# Keeps WAMR's FetchContent (pulled in by deno_core's QuickJS-ng backend, v8x)
# off the network: it would otherwise clone `simde` from GitHub at build time.
# The x86-64 build needs none of simde's headers, so an empty folder serves.
set(FETCHCONTENT_SOURCE_DIR_SIMDE "${CMAKE_CURRENT_LIST_DIR}/simde-empty" CACHE PATH "")
