// loyaltyd: the loyalty engine server. Reads server.toml (flags override it), opens the data
// folder, activates the program, runs the runtime and the HTTP API until SIGTERM/SIGINT, then
// drains and closes cleanly (config.md "loyaltyd").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "api/auth.hpp"
#include "api/build_info.hpp"
#include "api/cluster_reads.hpp"
#include "api/http_server.hpp"
#include "api/logger.hpp"
#include "api/notification_hub.hpp"
#include "api/response_courier.hpp"
#include "api/router.hpp"
#include "api/server_config.hpp"
#include "api/system_clock.hpp"
#include "api/tls.hpp"
#include "cluster/cluster_jobs.hpp"
#include "cluster/etcd_endpoint_store.hpp"
#include "cluster/node.hpp"
#include "cluster/webhook_lanes.hpp"
#include "engine/program_toml.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/backup_jobs.hpp"
#include "ops/erasure_purges.hpp"
#include "ops/job_runner.hpp"
#include "ops/job_scheduler.hpp"
#include "storage/rocks_store.hpp"
#include "webhooks/dispatcher.hpp"
#include "webhooks/endpoints.hpp"
#include "webhooks/log_steps.hpp"

namespace {

using namespace loyalty;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;    // could not start: storage, the port, a stored program
constexpr int kExitBadConfig = 2;  // bad usage, configuration or program file
// How long in-flight requests may take to be answered after the runtime drained.
constexpr std::chrono::milliseconds kShutdownGrace{5000};

// One structured log line on stderr (api/logger.hpp); the message still names the file and
// key on a bad config (config.md "loyaltyd").
void say(const std::string& line, api::LogLevel level = api::LogLevel::error) {
  api::log_event(level, line);
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = path + ": cannot read";
    return false;
  }
  out = text.str();
  return true;
}

std::string program_error_line(std::string_view source, const ProgramLoadError& error) {
  // Syntax errors carry the source name, line and column themselves.
  if (error.key.empty()) return error.message;
  return std::string(source) + ": " + error.key + ": " + error.message;
}

// Parses and validates program TOML; on failure `error` holds the one line to print.
std::optional<Program> load_program(std::string_view text, std::string_view source,
                                    std::string& error) {
  std::variant<Program, ProgramLoadError> parsed =
      parse_program_toml(text, source, os_time_zones());
  if (const ProgramLoadError* problem = std::get_if<ProgramLoadError>(&parsed)) {
    error = program_error_line(source, *problem);
    return std::nullopt;
  }
  Program program = std::move(std::get<Program>(parsed));
  if (std::optional<ProgramLoadError> problem = validate_program(program)) {
    error = program_error_line(source, *problem);
    return std::nullopt;
  }
  return program;
}

struct Options {
  std::string config_path = "config/server.toml";
  std::string program_path;  // empty: from the config
  std::string data_dir;      // empty: from the config
  std::string listen;        // empty: from the config
};

int run(const Options& options) {
  // Installed first, so a signal during start-up is not fatal: it is seen once serving.
  boost::asio::io_context signal_context;
  boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);

  std::string text;
  std::string error;
  if (!read_file(options.config_path, text, error)) {
    say(error);
    return kExitBadConfig;
  }
  std::variant<api::ServerConfig, api::ConfigError> parsed =
      api::parse_server_config(text, options.config_path);
  if (const api::ConfigError* problem = std::get_if<api::ConfigError>(&parsed)) {
    say(problem->to_line(options.config_path));
    return kExitBadConfig;
  }
  api::ServerConfig config = std::move(std::get<api::ServerConfig>(parsed));
  if (!options.listen.empty()) {
    std::optional<api::ListenAddress> address = api::parse_listen_address(options.listen);
    if (!address) {
      say("--listen: must be HOST:PORT with a port from 0 to 65535");
      return kExitBadConfig;
    }
    config.listen = *address;
  }
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (!options.program_path.empty()) config.program = options.program_path;
  if (config.api_keys.empty())
    say("loyaltyd: no api_keys configured: only /healthz and /readyz answer", api::LogLevel::warn);
  // The certificate and key are read now, before the data folder is touched: a bad [tls] is a
  // bad configuration (exit 2), not a server that starts and then refuses every client.
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (config.tls) {
    auto made = api::make_tls_context(*config.tls);
    if (const api::ConfigError* problem = std::get_if<api::ConfigError>(&made)) {
      say(problem->to_line(options.config_path));
      return kExitBadConfig;
    }
    tls = std::move(std::get<std::shared_ptr<boost::asio::ssl::context>>(made));
  }

  // A new data folder is only created once its seed program is known to be good.
  std::string seed_text;
  std::optional<Program> seed;
  const auto load_seed = [&]() -> bool {
    if (!read_file(config.program, seed_text, error)) return false;
    seed = load_program(seed_text, config.program, error);
    return seed.has_value();
  };
  std::error_code exists_error;
  if (!std::filesystem::exists(config.data_dir, exists_error) && !load_seed()) {
    say(error);
    return kExitBadConfig;
  }

  std::unique_ptr<RocksStore> store;
  RocksStoreOptions store_options;
  store_options.path = config.data_dir;
  store_options.durability = config.durability;
  store_options.feed_retention_per_member = config.limits.feed_retention_per_member;
  if (Status status = RocksStore::open(store_options, store); !status.ok()) {
    say("loyaltyd: cannot open the data folder " + config.data_dir + ": " + status.message());
    return kExitFailure;
  }

  // The data folder's active program wins over the file: the file only seeds a new folder
  // (program changes are new versions, made through the API).
  std::optional<uint32_t> active;
  if (Status status = store->active_program_version(active); !status.ok()) {
    say("loyaltyd: cannot read program versions: " + status.message());
    return kExitFailure;
  }
  auto version = std::make_shared<ProgramVersion>();
  if (active) {
    std::vector<StoredProgramVersion> versions;
    if (Status status = store->load_program_versions(versions); !status.ok()) {
      say("loyaltyd: cannot read program versions: " + status.message());
      return kExitFailure;
    }
    const auto it =
        std::find_if(versions.begin(), versions.end(),
                     [&](const StoredProgramVersion& v) { return v.number == *active; });
    if (it == versions.end()) {
      say("loyaltyd: the active program version " + std::to_string(*active) + " is missing");
      return kExitFailure;
    }
    const std::string source =
        config.data_dir + " (program version " + std::to_string(*active) + ")";
    std::optional<Program> program = load_program(it->source_toml, source, error);
    if (!program) {
      say("loyaltyd: the stored program does not load: " + error);
      return kExitFailure;
    }
    version->number = it->number;
    version->program = std::move(*program);
    version->source_toml = it->source_toml;
    if (!options.program_path.empty()) {
      say("loyaltyd: --program ignored: " + config.data_dir + " already has an active program",
          api::LogLevel::warn);
    }
  } else {
    if (!seed && !load_seed()) {
      say(error);
      return kExitBadConfig;
    }
    const StoredProgramVersion stored{1, seed_text, api::system_clock_ms()};
    if (Status status = store->save_program_version(stored, true); !status.ok()) {
      say("loyaltyd: cannot save the program: " + status.message());
      return kExitFailure;
    }
    version->number = 1;
    version->program = std::move(*seed);
    version->source_toml = std::move(seed_text);
  }
  say("loyaltyd: program " + version->label() + ", data in " + config.data_dir,
      api::LogLevel::info);
  ProgramRegistry programs(std::move(version));

  // Cluster mode: this node's part of the cluster, before the runtime (its follow-ups and
  // accepted events go to the partition logs) and joined after it (its appliers feed it).
  std::unique_ptr<cluster::ClusterNode> node;
  if (config.cluster) {
    const std::string url = "http://" + api::format_listen_address(config.listen);
    if (Status status = cluster::ClusterNode::open(*config.cluster, url, *store, node);
        !status.ok()) {
      say("loyaltyd: cluster: " + status.message());
      return status.code() == Status::Code::invalid_argument ? kExitBadConfig : kExitFailure;
    }
  }

  RuntimeOptions runtime_options;
  runtime_options.member_cache_members = config.limits.member_cache_members;
  runtime_options.member_cache_bytes = config.limits.member_cache_bytes;
  // A batch's HTTP answers go back to the I/O threads in one post (api/response_courier.hpp).
  runtime_options.completions_begin = &api::response_courier::begin_batch;
  runtime_options.completions_end = &api::response_courier::end_batch;
  runtime_options.partitions =
      config.partitions > 0 ? config.partitions : std::max(1u, std::thread::hardware_concurrency());
  if (node) {
    runtime_options.partitions = config.cluster->partitions;  // one writer per partition log
    runtime_options.log_driven = true;
    runtime_options.follow_up_sink = [&node](const Event& e) { node->publish_follow_up(e); };
    runtime_options.give_back_sink = [&node](const StockUnit& unit) { node->give_back(unit); };
    runtime_options.claim_release_sink = [&node](const ClaimRelease& release) {
      node->release_claim(release);
    };
    runtime_options.protect_claim_key = [&node](const std::string& key) {
      return node->protect_claim_key(key);
    };
    runtime_options.publish = [&node](Event&& event, uint64_t fingerprint, Completion&& done) {
      node->submit(std::move(event), fingerprint, std::move(done));
    };
    runtime_options.partition_program = [&node](uint32_t partition) {
      return node->programs().partition_program(partition);
    };
  }
  // Outlives the runtime (its sink) and the server (sessions unsubscribe when they close).
  api::NotificationHub hub;
  // Cluster mode: the owner of the member's partition sends each notification to every node,
  // whose hub hands it to its subscribers (ClusterNode::set_feed below).
  Runtime runtime(runtime_options, *store, programs, &api::system_clock_ms,
                  [&hub, &node](const std::string& member_id, const Notification& notification) {
                    if (node) {
                      node->publish_notification(member_id, notification);
                    } else {
                      hub.publish(member_id, notification);  // posts to the sessions; never blocks
                    }
                  });

  api::ApiContext context{&runtime, store.get(), &programs, &api::system_clock_ms, nullptr};
  context.hub = &hub;
  context.console = config.http.console;  // /console/ ([http] console)
  context.cluster = node.get();
  // Erasures' purges from this folder (POST /v1/members/{id}:erase). In cluster mode every
  // node purges its own after applying the erasure, and the member's owner also ends it in the
  // partition's input log.
  ops::ErasurePurges erasures(*store, [](std::string_view line) {
    say("loyaltyd: " + std::string(line), api::LogLevel::info);
  });
  if (Status status = erasures.start(); !status.ok()) {
    say("loyaltyd: cannot read the pending erasures: " + status.message());
    runtime.stop();
    return kExitFailure;
  }
  context.erasures = &erasures;
  if (node) {
    // The owner's purge is the erase request's own (it runs there and waits for it): one
    // whole-log scan per node.
    node->set_erased([&erasures, &node](const std::string& member_id) {
      const uint32_t partition = member_partition(member_id, node->config().partitions);
      if (node->role(partition) != cluster::Role::owner) erasures.submit(member_id, nullptr);
    });
    context.erase_from_log = [&node](const std::string& member_id,
                                     std::function<void(const Status&, uint64_t)> done) {
      node->erase_from_log(member_id, std::move(done));
    };
  }
  // Webhooks: endpoints in this folder, deliveries on their own threads following its log; in
  // cluster mode endpoints in etcd, each partition's deliveries by its owner (with an etcd
  // client of their own: their writes never delay the node's lease keep-alives).
  std::unique_ptr<cluster::EtcdClient> webhooks_etcd;
  std::unique_ptr<webhooks::EndpointStore> endpoint_store;
  if (node) {
    webhooks_etcd = std::make_unique<cluster::EtcdClient>(config.cluster->etcd_endpoints,
                                                          std::chrono::seconds(5));
    endpoint_store = std::make_unique<cluster::EtcdEndpointStore>(
        *webhooks_etcd, config.cluster->name,
        [&node](uint64_t& sequence) { return node->log_end(sequence); });
  } else {
    endpoint_store = std::make_unique<webhooks::LocalEndpointStore>(*store);
  }
  webhooks::Endpoints webhook_endpoints(*endpoint_store, &api::system_clock_ms,
                                        config.webhooks.allow_private_addresses);
  webhooks::DispatcherOptions webhook_options;
  webhook_options.threads = config.webhooks.delivery_threads;
  webhook_options.timeout = std::chrono::seconds(config.webhooks.timeout_seconds);
  webhook_options.allow_private = config.webhooks.allow_private_addresses;
  if (!config.webhooks.retry_schedule_seconds.empty()) {
    webhook_options.retry_schedule.clear();
    for (uint32_t delay : config.webhooks.retry_schedule_seconds) {
      webhook_options.retry_schedule.emplace_back(std::chrono::seconds(delay));
    }
  }
  const auto say_webhooks = [](std::string_view line) {
    say("loyaltyd: " + std::string(line), api::LogLevel::info);
  };
  std::unique_ptr<webhooks::DeliverySteps> delivery_steps;
  if (node) {
    delivery_steps = std::make_unique<cluster::WebhookLanes>(
        *node, *webhooks_etcd, *store, webhook_endpoints, &api::system_clock_ms, webhook_options,
        say_webhooks);
  } else {
    delivery_steps = std::make_unique<webhooks::LogSteps>(
        *store, webhook_endpoints, &api::system_clock_ms, webhook_options, say_webhooks);
  }
  webhooks::Dispatcher webhook_dispatcher(webhook_endpoints, *delivery_steps, &api::system_clock_ms,
                                          std::move(webhook_options), say_webhooks);
  context.webhook_endpoints = &webhook_endpoints;
  context.webhooks = &webhook_dispatcher;
  // Cluster mode: member reads answered by their partition's owner, this node serving its own
  // partitions' reads for the others (from the moment start() makes it an owner).
  std::unique_ptr<api::ClusterReads> cluster_reads;
  if (node) {
    cluster_reads = std::make_unique<api::ClusterReads>(*node, context);
    context.cluster_reads = cluster_reads.get();
    context.feed = cluster_reads.get();
    node->set_feed([&hub](const std::string& member_id, const Notification& notification) {
      hub.publish(member_id, notification);
    });
  }

  if (node) {
    if (Status status = node->start(runtime, programs); !status.ok()) {
      say("loyaltyd: cluster: " + status.message());
      node->stop();
      runtime.stop();
      return status.code() == Status::Code::invalid_argument ? kExitBadConfig : kExitFailure;
    }
    say("loyaltyd: cluster " + config.cluster->name + ", node " + config.cluster->node_id + ", " +
            std::to_string(config.cluster->partitions) + " partitions",
        api::LogLevel::info);
  }

  // Jobs run through the runtime, so they start after it and stop before it: a job the stop
  // interrupts stays `running` in its record and resumes at the next start.
  ops::JobRunnerOptions job_options;
  job_options.log = [](std::string_view line) {
    say("loyaltyd: " + std::string(line), api::LogLevel::info);
  };
  ops::JobRunner jobs(*store, runtime, &api::system_clock_ms, std::move(job_options));
  if (Status status = jobs.start(); !status.ok()) {
    say("loyaltyd: cannot read the job records: " + status.message());
    if (node) node->stop();  // before `erasures` goes: its appliers tell it of erasures
    runtime.stop();
    return kExitFailure;
  }
  // Cluster mode: the cluster's jobs (etcd records, each node running the partitions it owns);
  // the local runner stays idle there (no job is submitted to it).
  std::unique_ptr<cluster::ClusterJobs> cluster_jobs;
  if (node) {
    cluster_jobs =
        std::make_unique<cluster::ClusterJobs>(*node, runtime, *store, &api::system_clock_ms);
    cluster_jobs->start();
  }
  ops::JobService& job_service = cluster_jobs ? static_cast<ops::JobService&>(*cluster_jobs) : jobs;
  // Online backups of this node's folder (POST /v1/backups), by default beside it.
  std::filesystem::path backup_default = std::filesystem::path(config.data_dir).lexically_normal();
  if (!backup_default.has_filename()) backup_default = backup_default.parent_path();
  ops::BackupJobs backups(
      *store, &api::system_clock_ms, backup_default.string() + "-backups",
      [](std::string_view line) { say("loyaltyd: " + std::string(line), api::LogLevel::info); });
  if (Status status = backups.start(); !status.ok()) {
    say("loyaltyd: cannot read the backup records: " + status.message());
    jobs.stop();
    if (cluster_jobs) cluster_jobs->stop();
    if (node) node->stop();
    runtime.stop();
    return kExitFailure;
  }
  webhook_dispatcher.start();
  // In cluster mode every node's scheduler asks for the same job (its id is what it does), and
  // the cluster makes it once.
  ops::JobScheduler scheduler(
      config.schedules, &api::system_clock_ms,
      [&programs] { return programs.active()->program.time_zone; },
      [&job_service](const ops::Schedule& schedule, TimeMs as_of) {
        ops::JobSpec spec;
        spec.type = schedule.job;
        spec.as_of = as_of;
        spec.requested_by = "schedule";
        JobRecord job;
        bool queued = false;
        if (Status status = job_service.submit(spec, job, queued); !status.ok()) {
          say("loyaltyd: cannot queue a scheduled job: " + status.message());
        }
      },
      [&job_service](const ops::Schedule& schedule, TimeMs as_of) {
        ops::JobSpec spec;
        spec.type = schedule.job;
        spec.as_of = as_of;
        std::optional<JobRecord> job;
        const Status status = job_service.find(ops::job_id_of(spec), job);
        return status.ok() && job && job->state == JobState::succeeded;
      });
  for (const ops::Schedule& schedule : config.schedules) {
    say("loyaltyd: schedule: " + ops::describe(schedule, *programs.active()->program.time_zone),
        api::LogLevel::info);
  }
  scheduler.start();

  context.jobs = &job_service;
  context.backups = &backups;
  api::HttpServer server(
      {config.listen, config.limits, config.rate_limits, std::move(tls), config.http.cors_origins},
      context, api::KeyTable(config.api_keys, config.member_token_secret));
  if (Status status = server.start(); !status.ok()) {
    say("loyaltyd: " + status.message());
    scheduler.stop();
    jobs.stop();
    backups.stop();
    erasures.stop();
    webhook_dispatcher.stop();
    if (cluster_jobs) cluster_jobs->stop();
    if (node) node->stop();
    runtime.stop();
    return kExitFailure;
  }
  if (config.tls) {
    say("loyaltyd: TLS on: https:// and wss:// only, certificate " + config.tls->cert_file,
        api::LogLevel::info);
  }
  std::printf("loyaltyd listening on %s\n",
              api::format_listen_address(server.local_address()).c_str());
  std::fflush(stdout);

  int signal_number = 0;
  signals.async_wait([&](const boost::system::error_code&, int number) { signal_number = number; });
  signal_context.run();

  say("loyaltyd: stopping (" + std::string(signal_number == SIGTERM ? "SIGTERM" : "SIGINT") + ")",
      api::LogLevel::info);
  server.stop_accepting();
  scheduler.stop();
  jobs.stop();      // interrupts a running job between steps; it resumes at the next start
  backups.stop();   // lets a running backup finish
  erasures.stop();  // lets a running purge finish; the rest run at the next start
  webhook_dispatcher.stop();  // lets each post finish; deliveries go on from there at the start
  if (cluster_jobs) cluster_jobs->stop();  // a part cut short runs again, here or elsewhere
  if (node) node->stop();  // leaves the cluster: its partitions move; waiting requests get 503
  runtime.stop();          // finishes everything queued; completions post their responses
  if (!server.wait_idle(kShutdownGrace)) {
    say("loyaltyd: some requests were not answered in time", api::LogLevel::warn);
  }
  // After the runtime drained, so that results of streamed events go out before the close.
  if (!server.close_streams(kShutdownGrace)) {
    say("loyaltyd: some WebSocket clients did not finish closing in time", api::LogLevel::warn);
  }
  server.stop();
  node.reset();   // after the server: sessions may ask it until they are gone; publishes the
                  // follow-ups the last batches made
  store.reset();  // flushes and closes (after the server and runtime no longer use it)
  say("loyaltyd: stopped", api::LogLevel::info);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loyaltyd: the loyalty points engine server"};
  app.set_version_flag("--version", api::version_line("loyaltyd"));
  Options options;
  app.add_option("--config", options.config_path, "server.toml to read")->capture_default_str();
  app.add_option("--program", options.program_path,
                 "program.toml seeding a new data folder (overrides `program`)");
  app.add_option("--data", options.data_dir, "data folder (overrides `data_dir`)");
  app.add_option("--listen", options.listen, "HOST:PORT (overrides `listen`; port 0 = any)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitBadConfig;
  }
  return run(options);
}
