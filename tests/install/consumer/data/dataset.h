// The user project's own data/dataset.h: a different Batch than wisp::data::Batch, in the global
// namespace. If a wisp header included "data/dataset.h" instead of "wisp/data/dataset.h", it would get
// this file, and wisp/data/dataloader.h would fail with "'Batch' does not name a type".
#pragma once

#include <string>
#include <utility>
#include <vector>

struct Batch {
  std::vector<std::string> file_names;
};

inline Batch make_batch(std::vector<std::string> file_names) { return Batch{std::move(file_names)}; }
