// The one place that reads std::chrono::system_clock.
#include "api/system_clock.hpp"

#include <chrono>

namespace loyalty::api {

TimeMs system_clock_ms() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace loyalty::api
