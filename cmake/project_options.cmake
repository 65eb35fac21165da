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
