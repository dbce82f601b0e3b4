// wisp: a deep-learning framework in C++17 for wide, sparse neural networks.
//
// The umbrella header: #include <wisp/wisp.h> gives the public API of tensors, autograd, layers,
// optimizers and data. The kernels beneath the ops (kernels/*.h: the dispatch points, RigL's pieces)
// are public too but included on their own, e.g. #include <wisp/kernels/rigl.h>.
#pragma once

#include "core/config.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/factories.h"
#include "core/random.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "core/threading.h"

#include "autograd/check_gradients.h"
#include "autograd/grad_mode.h"
#include "autograd/tape.h"

#include "layers/functional.h"
#include "layers/nn.h"

#include "optim/optimizer.h"
#include "optim/sgd.h"

#include "data/dataloader.h"
#include "data/idx.h"
#include "data/mnist.h"
