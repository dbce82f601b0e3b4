// WISP_ARG: one line per option in an options struct (PyTorch's TORCH_ARG).
//
//   struct LinearOptions {
//     WISP_ARG(bool, bias, true);
//   };
//   nn::Linear layer(784, 10, nn::LinearOptions().bias(false));
//
// WISP_ARG(type, name, default_value) declares the member `name_` (initialised to default_value), a
// chained setter `Options& name(type value)` and a getter `type name() const`. It leaves the access
// at `private:`, so an options struct lists its hand-written public members first (or repeats
// `public:` after its arguments). For one value per option: a setter that takes several values
// (AdamOptions::betas) or that checks its value is written by hand. A type whose name contains a
// comma needs an alias first (the preprocessor would split it).
#pragma once

#include <utility>

// The setter's return type is spelled decltype(*this) (the enclosing struct, by reference) so that
// the macro needs no struct name.
#define WISP_ARG(type, name, default_value)                                                                            \
 public:                                                                                                               \
  auto name(type value)->decltype(*this) {                                                                             \
    this->name##_ = ::std::move(value);                                                                                \
    return *this;                                                                                                      \
  }                                                                                                                    \
  type name() const { return this->name##_; }                                                                          \
                                                                                                                       \
 private:                                                                                                              \
  type name##_ = default_value
