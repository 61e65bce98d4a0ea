// Arrays for data that the solvers read at random rows.
//
// A random row of an out-of-cache array costs a TLB miss as well as a cache
// miss; with 4 KiB pages (and, on a virtual machine, nested page tables) the
// page walk is what makes a prefetched row arrive late. LargeArray allocates
// on a 2 MiB boundary and, on Linux, advises the kernel to back the array with
// transparent huge pages (madvise MADV_HUGEPAGE; honoured when THP is in
// "madvise" or "always" mode, ignored otherwise). Small arrays are allocated
// the same way; the advice only matters from 2 MiB up.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lpcore {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Zero-filled, 2 MiB aligned memory; release with std::free.
inline void* allocate_large(std::size_t bytes) {
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = nullptr;
  if (posix_memalign(&p, kHugePage, rounded == 0 ? kHugePage : rounded) != 0) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (rounded >= kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  // Zeroed after the advice, so that the first touch faults in huge pages.
  std::memset(p, 0, bytes);
  return p;
}

// Prefetch the cache line at p into all cache levels. An asm statement, not
// __builtin_prefetch: GCC 12 deletes a loop whose body is only
// __builtin_prefetch calls when it can bound the trip count (it did so to the
// solver's row prefetch), and a prefetch that silently disappears costs a
// whole memory latency per random sample.
inline void prefetch_line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// A fixed-size array of trivially copyable T in large-page memory.
template <class T>
class LargeArray {
 public:
  LargeArray() = default;
  explicit LargeArray(std::size_t n) : n_(n), p_(static_cast<T*>(allocate_large(n * sizeof(T)))) {}
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;
  LargeArray(LargeArray&& o) noexcept : n_(o.n_), p_(o.p_) { o.n_ = 0, o.p_ = nullptr; }
  LargeArray& operator=(LargeArray&& o) noexcept {
    std::swap(n_, o.n_);
    std::swap(p_, o.p_);
    return *this;
  }
  ~LargeArray() { std::free(p_); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }

 private:
  std::size_t n_ = 0;
  T* p_ = nullptr;
};

}  // namespace lpcore
