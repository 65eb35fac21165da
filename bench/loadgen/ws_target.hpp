// Streams events to a running loyaltyd over GET /v1/stream (WebSocket), as JSON text frames or
// FlatBuffers binary frames, many in flight per connection (pipelined); the server answers
// each connection's events in the order sent, so answers are matched first in, first out.
// One network thread. Thread-safety: submit() from any thread; connect()/close() from the
// owner.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/phase.hpp"

namespace loyalty::bench {

class WsTarget final : public Target {
 public:
  WsTarget();
  ~WsTarget() override;

  bool connect(const WsOptions& options, std::string& error);
  void submit(Event&& event, Done done) override;
  void close();

 private:
  struct Connection;
  void write_next(Connection& connection);  // network thread
  void read_next(Connection& connection);   // network thread
  void fail(Connection& connection);        // network thread: answers everything it waits for

  WsOptions options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<Connection>> connections_;
  size_t next_connection_ = 0;  // submit()'s round robin (one submitting thread)
};

}  // namespace loyalty::bench
