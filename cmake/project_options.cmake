# Warnings and sanitizers are set per target (loyalty_target_options), not globally,
# so imported dependencies are compiled and linked as Debian ships them.
function(loyalty_target_options target)
  # -Wno-restrict: GCC 12 warns falsely inside libstdc++'s std::string operator+ at -O2
  # (GCC bug 105329); it flags no code of ours.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  if(LOYALTY_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(LOYALTY_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=thread)
  endif()
endfunction()

# Programs that run the store get jemalloc as their allocator (RocksDB's recommendation): with
# glibc's malloc, memtable arenas and per-event allocations freed on other threads fragment
# the heap, and malloc/free was a tenth of the ingest profile (bench/RESULTS.md). Not in the
# sanitizer builds, whose runtimes bring their own allocator.
function(loyalty_use_jemalloc target)
  if(LOYALTY_SANITIZE OR LOYALTY_TSAN OR LOYALTY_FUZZ)
    return()
  endif()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
  target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
endfunction()
