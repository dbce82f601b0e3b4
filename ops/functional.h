// Every differentiable op (and the few non-differentiable ones beside them), as free functions in
// namespace wisp: one header per group, each paired with its ops/<group>.cpp. The Tensor methods
// that call them are defined in ops/tensor_methods.cpp and the ops' own sources.
#pragma once

#include "wisp/ops/elementwise.h"
#include "wisp/ops/indexing.h"
#include "wisp/ops/k_winners.h"
#include "wisp/ops/linear.h"
#include "wisp/ops/loss.h"
#include "wisp/ops/normalization.h"
#include "wisp/ops/random.h"
#include "wisp/ops/reduction.h"
#include "wisp/ops/shape.h"
#include "wisp/ops/sparse_linear.h"
