#include "cluster/job_messages.hpp"

#include <algorithm>
#include <charconv>

namespace loyalty::cluster {
namespace {

std::string messages_prefix(const std::string& cluster_name) {
  return "/" + cluster_name + "/job-messages/";
}

std::string counter_key(const std::string& cluster_name) {
  return "/" + cluster_name + "/job-messages-count";
}

std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The counter's next number, taken (compare-and-set: two nodes never take the same).
Status take_number(EtcdClient& etcd, const std::string& cluster_name, uint64_t& out) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::optional<EtcdKeyValue> counter;
    if (Status s = etcd.get(counter_key(cluster_name), counter); !s.ok()) return s;
    uint64_t last = 0;
    if (counter) {
      const std::optional<uint64_t> parsed = parse_number(counter->value);
      if (!parsed) return Status::error(Status::Code::corruption, "etcd's job message counter");
      last = *parsed;
    }
    bool put = false;
    if (Status s = etcd.put_if(counter_key(cluster_name), std::to_string(last + 1),
                               counter ? counter->mod_revision : 0, put);
        !s.ok()) {
      return s;
    }
    if (put) {
      out = last + 1;
      return Status::ok_status();
    }
  }
  return Status::error(Status::Code::io_error, "job message counter: too many concurrent takes");
}

}  // namespace

Status job_message_runs(EtcdClient& etcd, const std::string& cluster_name,
                        std::set<std::string>& out) {
  out.clear();
  std::vector<EtcdKeyValue> found;
  const std::string prefix = messages_prefix(cluster_name);
  if (Status s = etcd.get_prefix(prefix, found); !s.ok()) return s;
  for (const EtcdKeyValue& kv : found) out.insert(kv.key.substr(prefix.size()));
  return Status::ok_status();
}

Status ensure_job_message(EtcdClient& etcd, const std::string& cluster_name, const JobRecord& job,
                          int64_t run) {
  const std::string key = messages_prefix(cluster_name) + job.id + "/" + std::to_string(run);
  std::optional<EtcdKeyValue> existing;
  if (Status s = etcd.get(key, existing); !s.ok() || existing) return s;
  // A number a node took and then did not use (it stopped, or lost the race below) is a gap,
  // which deliveries pass over.
  uint64_t number = 0;
  if (Status s = take_number(etcd, cluster_name, number); !s.ok()) return s;
  bool created = false;
  return etcd.create(key, std::to_string(number) + "\n" + storage::encode_job(job), 0, created);
}

Status list_job_messages(EtcdClient& etcd, const std::string& cluster_name,
                         std::vector<ClusterJobMessage>& out) {
  out.clear();
  std::vector<EtcdKeyValue> found;
  const std::string prefix = messages_prefix(cluster_name);
  if (Status s = etcd.get_prefix(prefix, found); !s.ok()) return s;
  for (const EtcdKeyValue& kv : found) {
    const std::string_view rest = std::string_view(kv.key).substr(prefix.size());
    const size_t slash = rest.rfind('/');
    const size_t newline = kv.value.find('\n');
    const std::optional<uint64_t> number =
        newline == std::string::npos ? std::nullopt
                                     : parse_number(std::string_view(kv.value).substr(0, newline));
    if (slash == std::string_view::npos || !number) {
      return Status::error(Status::Code::corruption, "etcd's " + kv.key + " is not a job message");
    }
    ClusterJobMessage message;
    message.number = *number;
    if (Status s = storage::decode_job(rest.substr(0, slash),
                                       std::string_view(kv.value).substr(newline + 1), message.job);
        !s.ok()) {
      return s;
    }
    out.push_back(std::move(message));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.number < b.number; });
  return Status::ok_status();
}

Status next_job_message_number(EtcdClient& etcd, const std::string& cluster_name, uint64_t& out) {
  std::optional<EtcdKeyValue> counter;
  if (Status s = etcd.get(counter_key(cluster_name), counter); !s.ok()) return s;
  out = 1;
  if (!counter) return Status::ok_status();
  const std::optional<uint64_t> parsed = parse_number(counter->value);
  if (!parsed) return Status::error(Status::Code::corruption, "etcd's job message counter");
  out = *parsed + 1;
  return Status::ok_status();
}

}  // namespace loyalty::cluster
