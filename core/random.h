// Seeded, reproducible random numbers.
//
// The generator is counter-based: the i-th number of a stream is a pure function of (seed, i)
// (SplitMix64's finaliser over the counter). Drawing n numbers reserves counters
// [offset, offset + n) and advances the offset, so results depend only on the seed and the order
// of draws — never on the thread count, and kernels can fill tensors in parallel.
#pragma once

#include <cstdint>
#include <mutex>

#include "wisp/core/macros.h"

namespace wisp {

// The stateless core: 64 random bits for counter `counter` of stream `key`.
WISP_HOST_DEVICE inline uint64_t random_bits(uint64_t key, uint64_t counter) {
  uint64_t z = key + (counter + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (every float32 of that form is equally likely).
WISP_HOST_DEVICE inline float uniform_from_bits(uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

// Uniform double in (0, 1] with 53 random bits (never 0, so log() is finite).
WISP_HOST_DEVICE inline double open_uniform_from_bits(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

// Uniform integer in [0, range) by multiply-high (Lemire); bias below 2^-64 · range.
WISP_HOST_DEVICE inline uint64_t bounded_from_bits(uint64_t bits, uint64_t range) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * range) >> 64);
}

// A stream of random numbers: (key derived from the seed, next counter). Thread-safe.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { set_seed(seed); }
  void set_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  // The next counter: with seed(), the whole state (a checkpoint saves both and set_state restores
  // them, after which the stream continues exactly where it was).
  uint64_t offset() const;
  void set_state(uint64_t seed, uint64_t offset);
  // Reserves `count` consecutive counters and returns the key and the first counter.
  struct Block {
    uint64_t key;
    uint64_t first;
  };
  Block reserve(uint64_t count);
  uint64_t next_u64();  // one number, for scalar draws (shuffles, sampling)

 private:
  mutable std::mutex mutex_;
  uint64_t seed_ = 0;
  uint64_t key_ = 0;
  uint64_t offset_ = 0;
};

// The process-wide generator used by rand/randn/randint, layer initialisation and shuffling.
Generator& default_generator();

// Reseeds the default generator: the same seed (and the same sequence of calls) gives the same
// numbers on every run and every thread count.
void manual_seed(uint64_t seed);

}  // namespace wisp
