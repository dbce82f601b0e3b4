#pragma once
#include "wisp/ops/k_winners.h"  // moved to ops/; kept so that existing includes build
