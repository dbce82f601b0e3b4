#include "wisp/core/random.h"

namespace wisp {

void Generator::set_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  key_ = random_bits(0x5DEECE66Dull, seed);  // decorrelates nearby seeds
  offset_ = 0;
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return offset_;
}

void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  key_ = random_bits(0x5DEECE66Dull, seed);
  offset_ = offset;
}

Generator::Block Generator::reserve(uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  Block block{key_, offset_};
  offset_ += count;
  return block;
}

uint64_t Generator::next_u64() {
  const Block block = reserve(1);
  return random_bits(block.key, block.first);
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().set_seed(seed); }

}  // namespace wisp
