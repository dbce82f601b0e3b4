// All modules of namespace wisp::nn.
#pragma once

#include "wisp/layers/activation.h"
#include "wisp/layers/activation_sparsity.h"
#include "wisp/layers/connectivity.h"
#include "wisp/layers/erk.h"
#include "wisp/layers/layer_norm.h"
#include "wisp/layers/linear.h"
#include "wisp/layers/module.h"
#include "wisp/layers/module_list.h"
#include "wisp/layers/rigl.h"
#include "wisp/layers/sequential.h"
#include "wisp/layers/sparse_linear.h"
#include "wisp/ops/sparse_linear.h"
