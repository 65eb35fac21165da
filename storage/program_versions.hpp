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

}  // namespace loyalty
