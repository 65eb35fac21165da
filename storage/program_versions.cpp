// Loading stored program versions.
#include "storage/program_versions.hpp"

#include "engine/program_toml.hpp"

namespace loyalty {

Status load_stored_programs(RocksStore& store, StoredPrograms& out) {
  out = StoredPrograms{};
  std::vector<StoredProgramVersion> stored;
  if (Status status = store.load_program_versions(stored); !status.ok()) return status;
  if (Status status = store.active_program_version(out.active); !status.ok()) return status;
  for (const StoredProgramVersion& version : stored) {
    auto parsed = parse_program_toml(version.source_toml,
                                     "stored program version " + std::to_string(version.number));
    if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
      return Status::error(Status::Code::corruption,
                           "stored program version " + std::to_string(version.number) +
                               " does not load: " + error->key + ": " + error->message);
    }
    out.versions[version.number] = std::make_shared<const ProgramVersion>(
        ProgramVersion{version.number, std::get<Program>(std::move(parsed)), version.source_toml});
  }
  if (out.active && !out.versions.contains(*out.active)) {
    return Status::error(Status::Code::corruption, "the active program version is missing");
  }
  return Status::ok_status();
}

}  // namespace loyalty
