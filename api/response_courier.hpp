// Hands answers made on runtime writer threads back to the HTTP sessions. A writer runs the
// completions of a batch one after another; posting each answer to the I/O threads on its own
// wakes one of them per request (an eventfd write and a context switch each). Between
// begin_batch() and end_batch(), which loyaltyd installs as the runtime's completion hooks,
// answers are gathered per I/O context and go out in one post per batch; from there each runs
// on its session's strand. Outside a batch each answer is posted at once.
// Thread-safety: any thread; what is gathered is the calling thread's own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>

namespace loyalty::api::response_courier {

// Runs `deliver` on `executor` (a session's strand over an io_context).
void send(const boost::asio::any_io_executor& executor, std::function<void()> deliver);

void begin_batch();
void end_batch();  // posts what was gathered since begin_batch()

}  // namespace loyalty::api::response_courier
