// The running top-k of RigL's grow step (kernels/cpu/rigl_grow.cpp, kernels/cpu/rigl_bf16_screen.cpp):
// candidates (|G|, position) in the one total order every choice uses. Internal to the CPU twin.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wisp/kernels/rigl_math.h"

namespace wisp::kernels::cpu::rigl_detail {

// A growth candidate: |G| at a position. Better is the one total order every choice uses —
// larger magnitude first, then the lower tie rank (kernels/rigl.h), then the lower position — so
// that the result is unique whatever the tiling and the thread count. The tie rank is computed only
// for equal magnitudes, which are rare, instead of being stored with every candidate.
struct Candidate {
  float score;
  int64_t position;
};
struct Better {
  uint64_t tie_seed;
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.score != b.score) return a.score > b.score;
    const uint64_t rank_a = rigl_tie_rank(a.position, tie_seed), rank_b = rigl_tie_rank(b.position, tie_seed);
    return rank_a != rank_b ? rank_a < rank_b : a.position < b.position;
  }
};

// The best `k` candidates of a stream in O(k) memory: candidates collect in a buffer of up to 2k;
// a full buffer is cut back to its best k with nth_element (O(k), so O(1) amortised per push), and
// from then on only candidates better than the k-th best so far are admitted.
class RunningTopK {
 public:
  // floor: candidates below it are never admitted (−1: none); tie_seed: see rigl_tie_rank.
  RunningTopK(int64_t k, float floor, uint64_t tie_seed)
      : k_(static_cast<size_t>(k)), floor_(floor), better_{tie_seed} {
    buffer_.reserve(std::max<size_t>(2 * k_, 16));
  }

  // The magnitude below which nothing can enter: the floor while fewer than k were admitted.
  float admission_score() const { return full_ ? std::max(worst_.score, floor_) : floor_; }
  // How many candidates push() admitted.
  int64_t pushed() const { return pushed_; }

  void push(float score, int64_t position) {
    const Candidate candidate{score, position};
    if (full_ && !better_(candidate, worst_)) return;
    ++pushed_;
    buffer_.push_back(candidate);
    if (buffer_.size() >= std::max<size_t>(2 * k_, 16)) cut();
  }

  // The best k (or fewer, if fewer were pushed), in no particular order.
  std::vector<Candidate>& finish() {
    if (buffer_.size() > k_) cut();
    return buffer_;
  }

 private:
  void cut() {
    std::nth_element(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(k_ - 1), buffer_.end(), better_);
    buffer_.resize(k_);
    worst_ = buffer_[k_ - 1];  // nth_element leaves only better candidates before it
    full_ = true;
  }

  size_t k_;
  float floor_;
  Better better_;
  int64_t pushed_ = 0;
  std::vector<Candidate> buffer_;
  Candidate worst_{0.0f, 0};
  bool full_ = false;
};

}  // namespace wisp::kernels::cpu::rigl_detail
