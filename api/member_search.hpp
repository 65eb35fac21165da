// GET /v1/members (api.md "Administration of members"): customer service finds members by a
// member id prefix, or an exact phone or card as stored, filtered by tier and join date, in
// member id order, a page at a time. A page examines at most kSearchExaminedMax members' records,
// so a filter that matches few members costs bounded work per request: a page may then hold
// fewer than `limit` members and still have a next_cursor (go on from there).
// Thread-safety: free functions; the store is read without a writer's lock.
#pragma once

#include <boost/url/params_view.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/http_message.hpp"
#include "engine/program.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::api {

inline constexpr size_t kSearchExaminedMax = 10'000;

struct MemberSearch {
  std::string query;  // a member id prefix, or an exact phone or card; "" for every member
  std::optional<uint32_t> tier_index;
  std::optional<TimeMs> joined_from;  // joined_at in [joined_from, joined_to)
  std::optional<TimeMs> joined_to;
  size_t limit = 50;
  std::string after;  // the cursor: the last member id of the page before ("" for the first)
  // Cluster mode, in a request one node forwards to a partition's owner only: that partition's
  // members (member_partition over `partitions`).
  std::optional<uint32_t> partition;
  uint32_t partitions = 0;
};

// The query string, with `tier` a name of `program`'s tiers; a refusal names the parameter.
// `partition` is taken only from a forwarded request (`forwarded`).
std::variant<MemberSearch, HttpResponse> parse_member_search(boost::urls::params_view params,
                                                             const Program& program,
                                                             bool forwarded);

struct MemberSearchPage {
  std::vector<std::string> member_ids;  // in id order
  std::optional<std::string> next_cursor;
};

// The page of `store`'s members that match.
Status search_members(RocksStore& store, const MemberSearch& search, MemberSearchPage& out);

// Cluster mode: one page made of every partition's page (each of the same search): the members
// of all in id order, up to `limit`, and no further than the smallest next_cursor of a partition
// that has more (what lies beyond it there was not looked at yet).
struct PartitionPage {
  std::vector<std::pair<std::string, boost::json::value>> members;  // (member id, view), in order
  std::optional<std::string> next_cursor;
};
std::pair<std::vector<boost::json::value>, std::optional<std::string>> merge_partition_pages(
    std::vector<PartitionPage> pages, size_t limit);

}  // namespace loyalty::api
