#include "cluster/program_activations.hpp"

#include <charconv>
#include <cstdio>
#include <future>
#include <sstream>

#include "engine/check.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::cluster {
namespace {

using SteadyClock = std::chrono::steady_clock;

// etcd reads are made at most this often by reconcile(), and a partition is sent the same
// activation again only after this long (its owner may still be applying the first copy).
constexpr auto kReconcileEvery = std::chrono::seconds(3);
constexpr auto kRepublishAfter = std::chrono::seconds(15);
// Two activations made at once: the loser reads again; more rounds than this is a storm.
constexpr int kActivateRounds = 8;

std::string version_suffix(uint32_t version) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%010u", version);
  return std::string("v/") + digits;
}

std::optional<uint32_t> version_of_key(std::string_view key) {
  const size_t slash = key.rfind('/');
  uint32_t number = 0;
  const std::string_view digits = key.substr(slash + 1);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (error != std::errc() || end != digits.data() + digits.size() || number == 0) {
    return std::nullopt;
  }
  return number;
}

// Answered 503 with this message (busy), unlike the etcd and storage errors behind it.
Status unavailable(std::string message) {
  return Status::error(Status::Code::busy, std::move(message));
}

}  // namespace

ProgramActivations::ProgramActivations(const ClusterConfig& config, EtcdClient& etcd,
                                       LogAppend append, RocksStore& store)
    : config_(config), etcd_(etcd), append_(std::move(append)), store_(store) {}

std::string ProgramActivations::key(std::string_view suffix) const {
  return "/" + config_.name + "/program/" + std::string(suffix);
}

Status ProgramActivations::read_active(Active& out) {
  out = Active{};
  std::optional<EtcdKeyValue> found;
  if (Status s = etcd_.get(key("active"), found); !s.ok()) return s;
  if (!found) return Status::ok_status();
  std::istringstream fields(found->value);
  if (!(fields >> out.activation >> out.version >> out.activated_at) || out.activation == 0 ||
      out.version == 0) {
    return Status::error(Status::Code::corruption,
                         "etcd's " + key("active") + " is not an activation: " + found->value);
  }
  out.mod_revision = found->mod_revision;
  return Status::ok_status();
}

Status ProgramActivations::version_text(uint32_t version, std::string& toml) {
  std::optional<EtcdKeyValue> found;
  if (Status s = etcd_.get(key(version_suffix(version)), found); !s.ok()) return s;
  if (!found) {
    return Status::error(Status::Code::corruption,
                         "etcd has no program version " + std::to_string(version));
  }
  toml = std::move(found->value);
  return Status::ok_status();
}

Status ProgramActivations::keep(uint32_t number, const std::string& toml, TimeMs activated_at,
                                std::shared_ptr<const ProgramVersion>& out) {
  if (auto it = versions_.find(number); it != versions_.end()) {
    if (it->second->source_toml != toml) {
      return Status::error(Status::Code::corruption,
                           "program version " + std::to_string(number) +
                               " in this data folder is not the cluster's version " +
                               std::to_string(number));
    }
    out = it->second;
    return Status::ok_status();
  }
  std::vector<StoredProgramVersion> stored;
  if (Status s = store_.load_program_versions(stored); !s.ok()) return s;
  bool present = false;
  for (const StoredProgramVersion& version : stored) {
    if (version.number != number) continue;
    if (version.source_toml != toml) {
      return Status::error(Status::Code::corruption,
                           "program version " + std::to_string(number) +
                               " in this data folder is not the cluster's version " +
                               std::to_string(number));
    }
    present = true;
  }
  auto parsed =
      parse_program_toml(toml, "program version " + std::to_string(number), os_time_zones());
  if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    return Status::error(Status::Code::corruption, "program version " + std::to_string(number) +
                                                       " does not load: " + error->key + ": " +
                                                       error->message);
  }
  if (!present) {
    if (Status s = store_.save_program_version({number, toml, activated_at}, false); !s.ok()) {
      return s;
    }
  }
  out = std::make_shared<const ProgramVersion>(
      ProgramVersion{number, std::get<Program>(std::move(parsed)), toml});
  versions_[number] = out;
  return Status::ok_status();
}

Status ProgramActivations::adopt(uint64_t activation,
                                 const std::shared_ptr<const ProgramVersion>& version,
                                 TimeMs activated_at) {
  if (activation <= adopted_) return Status::ok_status();
  if (Status s =
          store_.save_program_version({version->number, version->source_toml, activated_at}, true);
      !s.ok()) {
    return s;
  }
  adopted_ = activation;
  adopted_version_ = version;
  if (registry_ != nullptr) registry_->activate(version);
  return Status::ok_status();
}

PartitionProgram ProgramActivations::partition_program(uint32_t partition) {
  const std::lock_guard lock(mutex_);
  uint64_t activation = 0;
  uint32_t number = 1;  // before any activation: the cluster's first version
  uint32_t stored = 0;
  Status status = store_.partition_program(partition, activation, stored);
  if (status.ok() && activation > 0) number = stored;
  std::shared_ptr<const ProgramVersion> version;
  if (status.ok()) {
    if (auto it = versions_.find(number); it != versions_.end()) version = it->second;
  }
  if (status.ok() && !version) {
    std::vector<StoredProgramVersion> versions;
    status = store_.load_program_versions(versions);
    for (const StoredProgramVersion& candidate : versions) {
      if (status.ok() && candidate.number == number) {
        status = keep(number, candidate.source_toml, candidate.activated_at, version);
      }
    }
  }
  // The folder says which rules its committed state was decided under: without them no
  // decision here could match the other nodes'.
  if (!status.ok() || !version) {
    std::fprintf(stderr, "cluster: partition %u: program version %u: %s\n", partition, number,
                 status.ok() ? "not in this data folder" : status.message().c_str());
    LOYALTY_CHECK(!"a partition's program version is readable");
  }
  partition_activation_[partition] = activation;
  if (activation > adopted_) {  // the newest activation this folder committed
    adopted_ = activation;
    adopted_version_ = version;
  }
  return PartitionProgram{activation, std::move(version)};
}

Status ProgramActivations::reseed(const std::vector<StoredProgramVersion>& stored) {
  for (const StoredProgramVersion& version : stored) {
    bool created = false;
    std::optional<EtcdKeyValue> existing;
    if (Status s = etcd_.create(key(version_suffix(version.number)), version.source_toml, 0,
                                created, &existing);
        !s.ok()) {
      return s;
    }
    if (!created && existing && existing->value != version.source_toml) {
      return Status::error(
          Status::Code::invalid_argument,
          version.number == 1
              ? "program: the cluster " + config_.name +
                    " began with another program; every node needs the same program.toml (and "
                    "data folders seeded with it)"
              : "program: version " + std::to_string(version.number) + " in this data folder " +
                    "is not the cluster " + config_.name + "'s version " +
                    std::to_string(version.number));
    }
  }
  return Status::ok_status();
}

Status ProgramActivations::join(ProgramRegistry& registry) {
  std::vector<StoredProgramVersion> stored;
  if (Status s = store_.load_program_versions(stored); !s.ok()) return s;
  if (stored.empty() || stored.front().number != 1) {
    return Status::error(Status::Code::corruption, "this data folder has no program version 1");
  }
  // Every version this folder holds is put in etcd unless there already: the first node puts
  // version 1, and an etcd started again empty gets its numbering back.
  if (Status s = reseed(stored); !s.ok()) return s;
  Active active;
  if (Status s = read_active(active); !s.ok()) return s;
  const std::lock_guard lock(mutex_);
  registry_ = &registry;
  if (active.activation < adopted_) {
    // etcd lost the last activation (started again empty): this folder's goes back, so the
    // next one is numbered after every activation the logs hold that this node has seen.
    TimeMs activated_at = 0;
    for (const StoredProgramVersion& version : stored) {
      if (version.number == adopted_version_->number) activated_at = version.activated_at;
    }
    bool put = false;
    return etcd_.put_if(key("active"),
                        std::to_string(adopted_) + " " + std::to_string(adopted_version_->number) +
                            " " + std::to_string(activated_at),
                        active.mod_revision, put);
  }
  if (active.activation == adopted_) return Status::ok_status();
  std::string toml;
  if (Status s = version_text(active.version, toml); !s.ok()) return s;
  std::shared_ptr<const ProgramVersion> version;
  if (Status s = keep(active.version, toml, active.activated_at, version); !s.ok()) return s;
  return adopt(active.activation, version, active.activated_at);
}

Status ProgramActivations::publish(uint32_t partition, const ProgramActivation& activation) {
  return append_(partition, activation);
}

Status ProgramActivations::number_of(const std::string& source_toml, uint32_t& number) {
  // A number is never given below one this folder holds: an etcd started again empty, or
  // behind, would otherwise give an old number to new text.
  std::vector<StoredProgramVersion> stored;
  if (Status s = store_.load_program_versions(stored); !s.ok()) return s;
  for (int round = 0; round < kActivateRounds; ++round) {
    std::vector<EtcdKeyValue> versions;
    if (Status s = etcd_.get_prefix(key("v/"), versions); !s.ok()) return s;
    if (versions.empty() || !version_of_key(versions.front().key) ||
        *version_of_key(versions.front().key) != 1) {
      if (Status s = reseed(stored); !s.ok()) return s;  // etcd lost them: this folder's first
      continue;
    }
    number = 0;
    uint32_t last = stored.empty() ? 0 : stored.back().number;
    for (const EtcdKeyValue& kv : versions) {
      const std::optional<uint32_t> found = version_of_key(kv.key);
      if (!found) continue;
      last = std::max(last, *found);
      if (kv.value == source_toml) number = *found;
    }
    if (number != 0) return Status::ok_status();
    bool created = false;
    if (Status s = etcd_.create(key(version_suffix(last + 1)), source_toml, 0, created); !s.ok()) {
      return s;
    }
    if (created) {
      number = last + 1;
      return Status::ok_status();
    }
    // Another node took that number a moment ago: read again.
  }
  return unavailable("other program versions kept taking the number; retry");
}

Status ProgramActivations::version(uint32_t number, std::shared_ptr<const ProgramVersion>& out) {
  std::optional<EtcdKeyValue> found;
  if (Status s = etcd_.get(key(version_suffix(number)), found); !s.ok()) return s;
  if (!found) {
    return Status::error(Status::Code::not_found,
                         "no program version " + std::to_string(number) + " in the cluster");
  }
  const std::lock_guard lock(mutex_);
  return keep(number, found->value, 0, out);
}

Status ProgramActivations::register_version(const std::string& source_toml,
                                            std::shared_ptr<const ProgramVersion>& out) {
  uint32_t number = 0;
  if (Status s = number_of(source_toml, number); !s.ok()) return s;
  const std::lock_guard lock(mutex_);
  return keep(number, source_toml, 0, out);
}

Status ProgramActivations::activate(Program program, std::string source_toml, TimeMs now,
                                    std::shared_ptr<const ProgramVersion>& out,
                                    TimeMs& activated_at) {
  (void)program;  // validated by the caller; parsed again by every applier from the same text
  ProgramActivation activation;
  for (int round = 0; round < kActivateRounds && activation.activation == 0; ++round) {
    uint32_t number = 0;
    if (Status s = number_of(source_toml, number); !s.ok()) return s;
    Active active;
    if (Status s = read_active(active); !s.ok()) return s;
    if (active.activation > 0 && active.version == number) {
      // Already the last activation (a retry of a PUT that answered 503): published again.
      activation = {active.activation, number, active.activated_at, source_toml};
      break;
    }
    uint64_t newest_seen = 0;
    {
      const std::lock_guard lock(mutex_);
      newest_seen = adopted_;
    }
    // Above every activation this node has seen too (etcd may have restarted behind them).
    const ProgramActivation next{std::max(active.activation, newest_seen) + 1, number, now,
                                 source_toml};
    const std::string value = std::to_string(next.activation) + " " + std::to_string(next.version) +
                              " " + std::to_string(now);
    bool put = false;
    if (Status s = etcd_.put_if(key("active"), value, active.mod_revision, put); !s.ok()) {
      return s;
    }
    if (put) activation = next;
  }
  if (activation.activation == 0) {
    return unavailable("other program activations kept taking the number; retry");
  }
  {
    const std::lock_guard lock(mutex_);
    if (Status s = keep(activation.version, activation.source_toml, activation.activated_at, out);
        !s.ok()) {
      return s;
    }
    if (Status s = adopt(activation.activation, out, activation.activated_at); !s.ok()) return s;
  }
  activated_at = activation.activated_at;
  // All at once: each waits for its owner's application (or, an owner gone, its timeout).
  std::vector<std::future<Status>> published;
  for (uint32_t partition = 0; partition < config_.partitions; ++partition) {
    published.push_back(std::async(std::launch::async, [this, partition, &activation] {
      return publish(partition, activation);
    }));
  }
  uint32_t failed = 0;
  Status first_failure;
  for (std::future<Status>& each : published) {
    if (Status s = each.get(); !s.ok()) {
      if (failed++ == 0) first_failure = s;
    }
  }
  if (failed > 0) {
    return unavailable("program version " + std::to_string(activation.version) +
                       " is active but not yet in the log of " + std::to_string(failed) +
                       " partition(s) (" + first_failure.message() +
                       "); their owners add it shortly, or retry");
  }
  return Status::ok_status();
}

Status ProgramActivations::prepare(uint32_t partition, const ProgramActivation& logged,
                                   PartitionProgram& out) {
  const std::lock_guard lock(mutex_);
  std::shared_ptr<const ProgramVersion> version;
  if (Status s = keep(logged.version, logged.source_toml, logged.activated_at, version); !s.ok()) {
    return s;
  }
  if (Status s = adopt(logged.activation, version, logged.activated_at); !s.ok()) return s;
  uint64_t& reached = partition_activation_[partition];
  reached = std::max(reached, logged.activation);
  out = PartitionProgram{logged.activation, std::move(version)};
  return Status::ok_status();
}

void ProgramActivations::reconcile(const std::vector<uint32_t>& owned) {
  const auto now = SteadyClock::now();
  std::vector<uint32_t> behind;
  {
    const std::lock_guard lock(mutex_);
    if (now < next_reconcile_ || owned.empty()) return;
    next_reconcile_ = now + kReconcileEvery;
  }
  Active active;
  if (Status s = read_active(active); !s.ok()) return;
  uint64_t newest_seen = 0;
  std::shared_ptr<const ProgramVersion> newest_version;
  {
    const std::lock_guard lock(mutex_);
    newest_seen = adopted_;
    newest_version = adopted_version_;
  }
  if (active.activation < newest_seen && newest_version) {
    // etcd is behind what the logs hold (it started again empty): the versions this folder
    // has and the newest activation go back, so numbering goes on above them.
    std::vector<StoredProgramVersion> stored;
    bool put = false;
    if (store_.load_program_versions(stored).ok() && reseed(stored).ok()) {
      (void)etcd_.put_if(
          key("active"),
          std::to_string(newest_seen) + " " + std::to_string(newest_version->number) + " 0",
          active.mod_revision, put);
    }
    return;
  }
  if (active.activation == 0) return;
  {
    const std::lock_guard lock(mutex_);
    for (const uint32_t partition : owned) {
      const auto reached = partition_activation_.find(partition);
      if (reached != partition_activation_.end() && reached->second >= active.activation) continue;
      auto [last, fresh] = republished_.try_emplace(partition, now);
      if (!fresh && now - last->second < kRepublishAfter) continue;
      last->second = now;
      behind.push_back(partition);
    }
  }
  if (behind.empty()) return;
  ProgramActivation activation{active.activation, active.version, active.activated_at, {}};
  if (Status s = version_text(active.version, activation.source_toml); !s.ok()) return;
  for (const uint32_t partition : behind) {
    const Status s = publish(partition, activation);
    std::fprintf(stderr, "cluster: partition %u: program activation %llu published again: %s\n",
                 partition, static_cast<unsigned long long>(activation.activation),
                 s.ok() ? "ok" : s.message().c_str());
  }
}

}  // namespace loyalty::cluster
