// Always-on invariant checks: a broken invariant is a bug, and continuing would corrupt the
// books, so the process stops (TigerBeetle-style assertions, kept in release builds).
#pragma once

#include <cstdio>
#include <cstdlib>

#define LOYALTY_CHECK(condition)                                                        \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      std::fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)
