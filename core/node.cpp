#include "wisp/core/node.h"

#include <utility>

namespace wisp::autograd {

// Freeing a node frees the entries that only it kept alive. Done by the members' own destructors
// that would recurse once per entry, and a long chain never back-propagated (a running sum over
// 10^5 steps) overflowed the stack; instead the inputs are unlinked into a worklist here, and each
// entry that this was the last owner of hands over its own inputs before it goes.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& edge : inputs)
    if (edge.node) pending.push_back(std::move(edge.node));
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() == 1)
      for (Edge& edge : node->inputs)
        if (edge.node) pending.push_back(std::move(edge.node));
  }  // each node is freed here with no input nodes left to free recursively
}

}  // namespace wisp::autograd
