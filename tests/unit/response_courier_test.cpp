// api/response_courier: answers a writer thread makes inside a batch wait for the batch's end,
// then all arrive on their sessions' strands, each strand's in the order they were made;
// outside a batch an answer goes out at once.
#include "api/response_courier.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <vector>

namespace loyalty::api {
namespace {

namespace net = boost::asio;

TEST(ResponseCourierTest, ABatchsAnswersLeaveTogetherAtItsEnd) {
  net::io_context io;
  const net::any_io_executor first = net::make_strand(io);
  const net::any_io_executor second = net::make_strand(io);
  std::vector<int> on_first, on_second;
  response_courier::begin_batch();
  for (int i = 0; i < 6; ++i) {
    if (i % 2 == 0) {
      response_courier::send(first, [&on_first, i] { on_first.push_back(i); });
    } else {
      response_courier::send(second, [&on_second, i] { on_second.push_back(i); });
    }
  }
  EXPECT_EQ(io.poll(), 0u) << "nothing leaves before the batch ends";
  io.restart();  // poll() ran out of work, which stops the context
  response_courier::end_batch();
  EXPECT_EQ(io.run_one(), 1u);  // one post for the whole batch
  io.run();
  EXPECT_EQ(on_first, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(on_second, (std::vector<int>{1, 3, 5}));
}

TEST(ResponseCourierTest, OutsideABatchAnAnswerLeavesAtOnce) {
  net::io_context io;
  const net::any_io_executor strand = net::make_strand(io);
  int delivered = 0;
  response_courier::send(strand, [&delivered] { ++delivered; });
  io.run();
  EXPECT_EQ(delivered, 1);
  // And a batch that ended leaves nothing behind for the next.
  response_courier::begin_batch();
  response_courier::end_batch();
  io.restart();
  EXPECT_EQ(io.poll(), 0u);
}

}  // namespace
}  // namespace loyalty::api
