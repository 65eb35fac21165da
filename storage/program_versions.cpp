// Loading stored program versions.
#include "storage/program_versions.hpp"

#include <mutex>

#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty {

Status load_stored_programs(RocksStore& store, StoredPrograms& out) {
  out = StoredPrograms{};
  std::vector<StoredProgramVersion> stored;
  if (Status status = store.load_program_versions(stored); !status.ok()) return status;
  if (Status status = store.active_program_version(out.active); !status.ok()) return status;
  for (const StoredProgramVersion& version : stored) {
    auto parsed = parse_program_toml(version.source_toml,
                                     "stored program version " + std::to_string(version.number),
                                     os_time_zones());
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

Status add_program_version(RocksStore& store, Program program, std::string source_toml,
                           TimeMs activated_at, bool make_active,
                           std::shared_ptr<const ProgramVersion>& out) {
  static std::mutex numbering;
  std::lock_guard lock(numbering);
  std::vector<StoredProgramVersion> stored;
  if (Status status = store.load_program_versions(stored); !status.ok()) return status;
  StoredProgramVersion version{0, std::move(source_toml), activated_at};
  for (const StoredProgramVersion& existing : stored) {
    if (existing.source_toml == version.source_toml) version = existing;
  }
  if (version.number == 0) version.number = stored.empty() ? 1 : stored.back().number + 1;
  // A stored version made active again (PUT of the same text) dates from this activation.
  if (make_active) version.activated_at = activated_at;
  if (Status status = store.save_program_version(version, make_active); !status.ok()) {
    return status;
  }
  out = std::make_shared<const ProgramVersion>(
      ProgramVersion{version.number, std::move(program), std::move(version.source_toml)});
  return Status::ok_status();
}

}  // namespace loyalty
