// Program versions as a data folder keeps them: every stored version parsed back into rules,
// for the runtime's registry and for tools that replay history under the version it ran on.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "engine/program.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty {

struct StoredPrograms {
  std::map<uint32_t, std::shared_ptr<const ProgramVersion>> versions;
  std::optional<uint32_t> active;
};

// Reads and parses every stored version. A stored version that no longer parses is corruption:
// it was validated when it was activated.
Status load_stored_programs(RocksStore& store, StoredPrograms& out);

// Stores a validated program as a version: the stored version with the very same source when
// there is one (so re-running a recalculation or re-sending a PUT makes no new version), else
// the next number. `make_active` also makes it the active version, dated `activated_at` (a
// version stored without being made active keeps the time it was stored). Calls are serialised
// within the process (one process owns a data folder), so two callers never take one number.
Status add_program_version(RocksStore& store, Program program, std::string source_toml,
                           TimeMs activated_at, bool make_active,
                           std::shared_ptr<const ProgramVersion>& out);

}  // namespace loyalty
