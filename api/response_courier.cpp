#include "api/response_courier.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <utility>
#include <vector>

namespace loyalty::api::response_courier {
namespace {

namespace net = boost::asio;
using IoExecutor = net::io_context::executor_type;

struct Answer {
  net::any_io_executor executor;
  std::function<void()> deliver;
};

// The answers of one batch bound for one I/O context.
struct Parcel {
  IoExecutor context;
  std::vector<Answer> answers;
};

thread_local bool gathering = false;
thread_local std::vector<Parcel> parcels;

}  // namespace

void send(const net::any_io_executor& executor, std::function<void()> deliver) {
  const auto* strand = executor.target<net::strand<IoExecutor>>();
  if (!gathering || strand == nullptr) {
    net::post(executor, std::move(deliver));
    return;
  }
  const IoExecutor context = strand->get_inner_executor();
  for (Parcel& parcel : parcels) {
    if (parcel.context == context) {
      parcel.answers.push_back({executor, std::move(deliver)});
      return;
    }
  }
  parcels.push_back({context, {}});
  parcels.back().answers.push_back({executor, std::move(deliver)});
}

void begin_batch() { gathering = true; }

void end_batch() {
  gathering = false;
  for (Parcel& parcel : parcels) {
    // On an I/O thread, each answer joins its session's strand; posting from there needs no
    // wake-up of another thread.
    net::post(parcel.context, [answers = std::move(parcel.answers)]() mutable {
      for (Answer& answer : answers) net::dispatch(answer.executor, std::move(answer.deliver));
    });
  }
  parcels.clear();
}

}  // namespace loyalty::api::response_courier
