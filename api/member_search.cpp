// Member search (see member_search.hpp).
#include "api/member_search.hpp"

#include <algorithm>
#include <boost/json/value.hpp>

#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "api/request_parsing.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::api {
namespace {

constexpr size_t kLimitDefault = 50;
constexpr size_t kLimitMax = 500;  // api.md

HttpResponse refuse(std::string_view field, std::string message) {
  return problem_response(ErrorCode::invalid_request, message, field);
}

bool matches(const MemberSearch& search, const MemberState& member) {
  if (search.tier_index && member.tier_index != *search.tier_index) return false;
  if (search.joined_from && member.joined_at < *search.joined_from) return false;
  if (search.joined_to && member.joined_at >= *search.joined_to) return false;
  return !search.partition ||
         member_partition(member.member_id, search.partitions) == *search.partition;
}

}  // namespace

std::variant<MemberSearch, HttpResponse> parse_member_search(boost::urls::params_view params,
                                                             const Program& program,
                                                             bool forwarded) {
  MemberSearch search;
  search.limit = kLimitDefault;
  for (const boost::urls::param param : params) {
    const std::string_view key = param.key;
    const std::string_view value = param.value;
    if (key == "query") {
      if (!is_valid_id(value)) {
        return refuse(key, "query must be 1 to 128 printable ASCII characters without spaces");
      }
      search.query = value;
    } else if (key == "tier") {
      std::optional<uint32_t> index;
      if (program.tiers) {
        for (uint32_t i = 0; i < program.tiers->levels.size(); ++i) {
          if (program.tiers->levels[i].name == value) index = i;
        }
      }
      if (!index) return refuse(key, "tier must name a tier of the active program");
      search.tier_index = index;
    } else if (key == "joined_from" || key == "joined_to") {
      const std::optional<TimeMs> at = parse_rfc3339(value);
      if (!at) return refuse(key, std::string(key) + " must be an RFC 3339 time");
      (key == "joined_from" ? search.joined_from : search.joined_to) = at;
    } else if (key == "limit") {
      uint64_t number = 0;
      if (!parse_decimal(value, number) || number < 1 || number > kLimitMax) {
        return refuse(key, "limit must be an integer from 1 to 500");
      }
      search.limit = static_cast<size_t>(number);
    } else if (key == "cursor") {
      if (!is_valid_id(value)) return refuse(key, "cursor must be a next_cursor of a page before");
      search.after = value;
    } else if (key == "partition" && forwarded) {
      uint64_t number = 0;
      if (!parse_decimal(value, number) || number > UINT32_MAX) {
        return refuse(key, "partition must be a partition number");
      }
      search.partition = static_cast<uint32_t>(number);
    } else {
      return refuse(key,
                    "unknown query parameter; use query, tier, joined_from, joined_to, limit or "
                    "cursor");
    }
  }
  if (search.joined_from && search.joined_to && *search.joined_from >= *search.joined_to) {
    return refuse("joined_to", "joined_to must be after joined_from");
  }
  return search;
}

Status search_members(RocksStore& store, const MemberSearch& search, MemberSearchPage& out) {
  out = {};
  std::vector<std::string> found;
  size_t examined = 0;
  std::optional<std::string> stopped_at;  // the last id examined when the budget ran out
  const std::string from = std::max(search.after, search.query);
  Status status = store.scan_member_records(from, [&](const MemberState& member) {
    if (member.member_id == search.after) return true;  // the cursor's own: the page before
    if (!member.member_id.starts_with(search.query)) return false;  // past the prefix
    if (matches(search, member)) {
      found.push_back(member.member_id);
      if (found.size() > search.limit) return false;  // one more than a page: there are more
    }
    if (++examined == kSearchExaminedMax) {
      stopped_at = member.member_id;
      return false;
    }
    return true;
  });
  if (!status.ok()) return status;
  // An exact phone or card names a member whatever its id; it joins the page where its id
  // falls, unless the scan stopped before that place.
  if (!search.query.empty()) {
    for (const IdentifierKind kind : {IdentifierKind::phone, IdentifierKind::card}) {
      std::string member_id;
      if (status = store.find_identifier(kind, search.query, member_id); !status.ok()) {
        return status;
      }
      if (member_id.empty() || member_id <= search.after) continue;
      if (found.size() > search.limit && member_id >= found[search.limit]) continue;
      if (stopped_at && member_id > *stopped_at) continue;
      std::optional<MemberState> member;
      if (status = store.load_member(member_id, member); !status.ok()) return status;
      if (member && matches(search, *member)) found.push_back(member_id);
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
  }
  if (found.size() > search.limit) {
    found.resize(search.limit);
    out.next_cursor = found.back();
  } else if (stopped_at) {
    out.next_cursor = stopped_at;
  }
  out.member_ids = std::move(found);
  return Status::ok_status();
}

std::pair<std::vector<boost::json::value>, std::optional<std::string>> merge_partition_pages(
    std::vector<PartitionPage> pages, size_t limit) {
  std::optional<std::string> bound;  // nothing beyond it was looked at in some partition
  std::vector<std::pair<std::string, boost::json::value>> members;
  for (PartitionPage& page : pages) {
    if (page.next_cursor && (!bound || *page.next_cursor < *bound)) bound = page.next_cursor;
    for (auto& member : page.members) members.push_back(std::move(member));
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (bound) {
    std::erase_if(members, [&](const auto& member) { return member.first > *bound; });
  }
  std::optional<std::string> next = bound;
  if (members.size() > limit) {
    members.resize(limit);
    next = members.back().first;
  }
  std::vector<boost::json::value> views;
  for (auto& member : members) views.push_back(std::move(member.second));
  return {std::move(views), next};
}

}  // namespace loyalty::api
