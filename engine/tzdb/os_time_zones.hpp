// The operating system's time-zone database (/usr/share/zoneinfo, Debian's tzdata), read through
// Howard Hinnant's date/tz: the TimeZoneDatabase every program loader of the project uses.
// Thread-safety: os_time_zones() and its find() may be called from any thread.
#pragma once

#include "engine/time_zone.hpp"

namespace loyalty {

// One database for the process, as the library's own. A zone is read from its file the first
// time it is asked for and kept; later look-ups of the same name share it.
const TimeZoneDatabase& os_time_zones();

}  // namespace loyalty
