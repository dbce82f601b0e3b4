#pragma once
#include "wisp/ops/functional.h"  // moved to ops/; kept so that existing includes build
