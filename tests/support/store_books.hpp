// A RocksStore's books as tests compare them: every member, and each one's whole ledger (newest
// first, read page by page), in member id order.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "storage/rocks_store.hpp"

namespace loyalty::testing {

struct StoreBooks {
  std::vector<MemberState> members;
  std::vector<std::vector<LedgerEntry>> ledgers;  // one per member, in the same order
  friend bool operator==(const StoreBooks&, const StoreBooks&) = default;
};

inline StoreBooks read_books(RocksStore& store) {
  StoreBooks out;
  EXPECT_TRUE(store
                  .scan_members([&](const MemberState& m) {
                    out.members.push_back(m);
                    return true;
                  })
                  .ok());
  for (const MemberState& m : out.members) {
    std::vector<LedgerEntry> ledger;
    std::optional<LedgerCursor> cursor;
    do {
      LedgerPage page;
      EXPECT_TRUE(store.read_ledger(m.member_id, cursor, 500, page).ok());
      ledger.insert(ledger.end(), page.entries.begin(), page.entries.end());
      cursor = page.next_cursor;
    } while (cursor);
    out.ledgers.push_back(std::move(ledger));
  }
  return out;
}

}  // namespace loyalty::testing
