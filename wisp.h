// wisp: a deep-learning framework in C++17 for wide, sparse neural networks.
//
// The umbrella header: #include <wisp/wisp.h> gives the public API of tensors, autograd, layers,
// optimizers and data. The kernels beneath the ops (kernels/*.h: the dispatch points, RigL's pieces)
// are public too but included on their own, e.g. #include <wisp/kernels/rigl.h>.
#pragma once

#include "wisp/core/config.h"
#include "wisp/core/device.h"
#include "wisp/core/dtype.h"
#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/core/random.h"
#include "wisp/core/shape.h"
#include "wisp/core/tensor.h"
#include "wisp/core/threading.h"

#include "wisp/autograd/check_gradients.h"
#include "wisp/autograd/grad_mode.h"
#include "wisp/autograd/tape.h"

#include "wisp/layers/nn.h"
#include "wisp/ops/functional.h"

#include "wisp/optim/adam.h"
#include "wisp/optim/clip.h"
#include "wisp/optim/optimizer.h"
#include "wisp/optim/schedule.h"
#include "wisp/optim/sgd.h"
#include "wisp/serialization/checkpoint.h"
#include "wisp/serialization/model.h"

#include "wisp/data/dataloader.h"
#include "wisp/data/idx.h"
#include "wisp/data/mnist.h"
#include "wisp/distributed/data_parallel.h"
#include "wisp/distributed/process_group.h"
