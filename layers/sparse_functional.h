#pragma once
#include "wisp/ops/sparse_linear.h"  // moved to ops/; kept so that existing includes build
