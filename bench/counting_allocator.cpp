#include "bench/counting_allocator.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace loyalty::bench {
namespace {

std::atomic<uint64_t> allocation_count{0};
thread_local uint64_t thread_allocation_count = 0;

void* counted(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  ++thread_allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* counted_aligned(std::size_t size, std::align_val_t alignment) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  ++thread_allocation_count;
  const auto align = static_cast<std::size_t>(alignment);
  if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}

}  // namespace

uint64_t allocations() { return allocation_count.load(std::memory_order_relaxed); }

uint64_t thread_allocations() { return thread_allocation_count; }

}  // namespace loyalty::bench

void* operator new(std::size_t size) { return loyalty::bench::counted(size); }
void* operator new[](std::size_t size) { return loyalty::bench::counted(size); }
void* operator new(std::size_t size, std::align_val_t alignment) {
  return loyalty::bench::counted_aligned(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return loyalty::bench::counted_aligned(size, alignment);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
