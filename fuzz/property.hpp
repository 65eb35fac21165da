// FUZZ_PROPERTY: a property a fuzz target checks on every input. A failure prints what did not
// hold and aborts, which libFuzzer reports as a crash and saves the input for (crash-<sha1>).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_PROPERTY(condition, what)                                                    \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::fprintf(stderr, "%s:%d: property failed: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                           \
      std::fflush(stderr);                                                                \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)
