// Sends events to a running loyaltyd over HTTP/1.1 keep-alive connections (Boost.Beast), one
// request at a time per connection, on one network thread so the load generator leaves the
// other core to the server. Requests are rendered on the caller's thread.
// Thread-safety: submit() from any thread; connect() and close() from the owning thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/phase.hpp"

namespace loyalty::bench {

class HttpTarget final : public Target {
 public:
  HttpTarget();
  ~HttpTarget() override;

  bool connect(const HttpOptions& options, std::string& error);
  void submit(Event&& event, Done done) override;
  void close();

 private:
  struct Request {
    std::string text;
    Done done;
  };
  struct Connection;

  void dispatch(Request&& request);       // network thread
  void start(Connection& connection);     // network thread
  void finished(Connection& connection);  // network thread: the connection is free again

  HttpOptions options_;
  std::string host_header_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;
  std::deque<Request> waiting_;
  size_t alive_ = 0;
};

}  // namespace loyalty::bench
