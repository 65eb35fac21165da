// LOYALTY_CHECK: an always-on assertion for broken invariants (STYLE.md, errors of the first
// kind). Unlike assert() it survives NDEBUG: continuing would corrupt the books, so the
// process stops.
#pragma once

#include <cstdio>
#include <cstdlib>

#define LOYALTY_CHECK(condition)                                                         \
  do {                                                                                   \
    if (!(condition)) [[unlikely]] {                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::fflush(stderr);                                                               \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
