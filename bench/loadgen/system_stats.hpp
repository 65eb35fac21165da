// Figures about the machine's side of a run: peak resident memory, and the bytes a RocksDB
// data folder takes on disk once its memtables are flushed.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>

namespace loyalty::bench {

// This process's peak resident set size (getrusage ru_maxrss).
uint64_t peak_rss_bytes();

// Opens the closed data folder with RocksDB's own saved options, flushes every column family
// (so the WAL's content is counted as the table files it becomes), closes it and sums the
// blocks its files take, as du does. False with `error` set when the folder cannot be opened.
bool flushed_disk_bytes(const std::string& path, uint64_t& bytes, std::string& error);

}  // namespace loyalty::bench
