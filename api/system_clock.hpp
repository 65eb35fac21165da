// The server's wall clock. The engine never reads a clock; the API and loyaltyd give the
// runtime this one (std::chrono::system_clock, milliseconds since the Unix epoch, UTC).
#pragma once

#include "engine/time.hpp"

namespace loyalty::api {

TimeMs system_clock_ms();

}  // namespace loyalty::api
