// All modules of namespace wisp::nn.
#pragma once

#include "layers/activation.h"
#include "layers/activation_sparsity.h"
#include "layers/connectivity.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/rigl.h"
#include "layers/sequential.h"
#include "layers/sparse_functional.h"
#include "layers/sparse_linear.h"
