// Cluster mode's reads (cluster.md "What a client sees": a read reflects every write
// acknowledged before it began). A read of a member is answered by the owner of the member's
// partition once it has applied all its log (cluster::ClusterNode::serves_reads). A node that
// does not serve that partition sends the request, with the caller it authenticated, to the
// owner over NATS; the owner runs it through its own router (never forwarding it again) and
// sends the response back whole. No owner serving it, or no answer in time: 503 with
// Retry-After, and the client retries.
// Thread-safety: elsewhere() from any I/O thread; the read server runs on NATS threads.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth.hpp"
#include "api/feed_reads.hpp"
#include "api/router.hpp"

namespace loyalty::cluster {
class ClusterNode;
}  // namespace loyalty::cluster

namespace loyalty::api {

class ClusterReads final : public FeedReads {
 public:
  // `context` is what a forwarded read runs with here; installs itself as `node`'s read
  // server. Both outlive this object's use (the node stops before the API goes).
  ClusterReads(cluster::ClusterNode& node, ApiContext context);

  // nullopt when this node serves `member_id`'s partition (the handler runs here); otherwise
  // the step that asks the partition's owner.
  std::optional<Deferred> elsewhere(std::string_view member_id, const HttpRequest& request,
                                    const std::optional<Principal>& principal);

  // A read whose member only a claim names (a lookup by phone or card, a hold by id): asks the
  // key's home partition whose it is, then has that member's owner answer `request_for(member)`
  // (here when this node serves it). `none` answers when no member holds the key, or when the
  // owner answers 404 (a claim outlives a sign-up that was then refused).
  using RequestFor = std::function<HttpRequest(const std::string& member_id)>;
  Deferred through_claim(std::string key, RequestFor request_for,
                         std::optional<Principal> principal, HttpResponse none);

  // Whose `key` is (its claim's owner, "" when no member holds it), asked of the key's home
  // partition; nullopt when that did not answer in time (503).
  void whose(std::string key, std::function<void(std::optional<std::string> owner)> done);

  // The units left of each of `reward_ids` (rewards with a stock limit), each asked of its
  // home partition (a StockAsk `count`, all at once); nullopt when one did not answer (503).
  using StockLeft = std::map<std::string, std::optional<int64_t>, std::less<>>;
  void stock_left(std::vector<std::string> reward_ids,
                  std::function<void(std::optional<StockLeft> left)> done);

  // Sends `request_for(p)` to the owner of every partition p at once (each answers for its own
  // partition, never forwarding again) and calls `done` with their responses in partition
  // order; a response is nullopt when no owner served it in time.
  using Responses = std::vector<std::optional<HttpResponse>>;
  void ask_every_partition(std::function<HttpRequest(uint32_t partition)> request_for,
                           const std::optional<Principal>& principal,
                           std::function<void(Responses)> done);

  // The same request to every partition's owner with `partition=<p>` added to its query: each
  // answers for that partition alone (a parameter only a forwarded request may carry), as
  // member search and the program's figures are answered.
  void ask_every_partition_for(const HttpRequest& request,
                               const std::optional<Principal>& principal,
                               std::function<void(Responses)> done);

  // Sends `request` to every live node (each answers from its own folder, never forwarding
  // again) and calls `done` with their responses; none when etcd names no node now.
  void ask_every_node(const HttpRequest& request, const std::optional<Principal>& principal,
                      std::function<void(Responses)> done);

  // FeedReads: from this node's store while it serves the member's partition, else from the
  // partition's owner.
  Status latest_seq(const std::string& member_id, std::optional<uint64_t>& latest) override;
  Status notifications(const std::string& member_id, uint64_t after_seq, size_t limit,
                       std::vector<Notification>& out) override;

 private:
  void serve(std::string_view forwarded, std::function<void(std::optional<std::string>)> reply);
  // GET /v1/members/{id}/notifications of the member's owner, waited for here.
  Status owners_feed(const std::string& member_id, uint64_t after_seq, size_t limit,
                     std::optional<uint64_t>& latest, std::vector<Notification>& out);

  cluster::ClusterNode& node_;
  ApiContext context_;
};

// The message a forwarded read travels in, and the response back (exposed for their test).
std::string encode_forwarded_read(const HttpRequest& request,
                                  const std::optional<Principal>& principal);
bool decode_forwarded_read(std::string_view bytes, HttpRequest& request,
                           std::optional<Principal>& principal);
std::string encode_forwarded_response(HttpResponse response);
std::optional<HttpResponse> decode_forwarded_response(std::string_view bytes);

}  // namespace loyalty::api
