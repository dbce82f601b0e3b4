// All modules of namespace wisp::nn.
#pragma once

#include "layers/activation.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/sequential.h"
