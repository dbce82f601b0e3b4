// What sparse_bench measured, as rows (name, batch, value, unit): --csv prints them and the tables
// are printed from them; bench/sparse_bench.py reads them by name. Batch 0 marks a row that is not
// about one batch size (memory, bandwidth, thread count).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wisp/layers/sparse_linear.h"

namespace wisp::sparse_bench {

struct Row {
  std::string name;
  int64_t batch;
  double value;
  std::string unit;
};

class Results {
 public:
  void add(const std::string& name, int64_t batch, double value, const std::string& unit) {
    rows_.push_back({name, batch, value, unit});
  }
  // The value of the first row named `name` at `batch`; -1 when there is none (nothing measured is
  // negative).
  double find(const std::string& name, int64_t batch) const;
  const std::vector<Row>& rows() const { return rows_; }

  // Lines about cases that could not run or disagreed, printed after the table (to stderr with --csv).
  void note(const std::string& line) { notes_.push_back(line); }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  std::vector<Row> rows_;
  std::vector<std::string> notes_;
};

// The rows both runs (CPU and GPU) report about the n x n layer: its construction time, nnz, and its
// memory beside the dense equivalent's.
void add_layer_rows(Results& results, const nn::SparseLinear& sparse, double init_ms);

}  // namespace wisp::sparse_bench
