// The MPI backend: non-blocking MPI collectives waited for by polling, so that the calling thread
// can give up after the timeout, and small "arrived at collective n" messages on a second
// communicator, so that the report of a timeout names the ranks that never came, and so that
// collectives paired wrongly across ranks (a rank skipped one, or left the job early) are caught.
#include "wisp/core/config.h"

#if WISP_WITH_MPI
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/core/storage.h"
#include "wisp/distributed/mpi_process_group.h"
#if WISP_WITH_NCCL
#include <map>

#include "wisp/distributed/cuda/nccl_communicator.h"
#endif

namespace wisp::distributed {
namespace {

constexpr int kArrivalTag = 1;      // a rank's "arrived at collective n" to rank 0
constexpr int kRootArrivalTag = 2;  // rank 0's "arrived at collective n" to every other rank
constexpr int kLeaveTag = 3;        // a rank's "left the job after collective n" to rank 0
// MPI counts are ints: larger tensors go in pieces of at most this many elements.
constexpr int64_t kMaxPieceElements = int64_t{1} << 30;

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  WISP_FAIL(call, " failed: ", std::string(text, static_cast<size_t>(length)));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return MPI_FLOAT;
    case DType::Int32:
      return MPI_INT32_T;
    case DType::Int64:
      return MPI_INT64_T;
    case DType::UInt8:
      return MPI_UINT8_T;
    case DType::UInt16:
      return MPI_UINT16_T;
    default:
      WISP_FAIL("expected a float32, int32, int64, uint8 or uint16 tensor for an MPI collective but got ", dtype);
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean:
      return MPI_SUM;
    case ReduceOp::Max:
      return MPI_MAX;
    case ReduceOp::Min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

// What a rank calls, compared across ranks in debug mode.
struct CallDescription {
  uint64_t number = 0;
  int32_t kind = 0;  // Kind
  int32_t op = 0;    // ReduceOp for all_reduce, the root for broadcast
  int32_t dtype = 0;
  int32_t unused = 0;
  int64_t elements = 0;  // all_gather: the elements of one row
};

enum Kind : int32_t { kAllReduce = 1, kBroadcast, kAllGather, kBarrier };

std::string describe(const CallDescription& call) {
  std::ostringstream text;
  switch (call.kind) {
    case kAllReduce:
      text << "all_reduce(" << to_string(static_cast<ReduceOp>(call.op)) << ") of " << call.elements << " "
           << static_cast<DType>(call.dtype);
      break;
    case kBroadcast:
      text << "broadcast from rank " << call.op << " of " << call.elements << " " << static_cast<DType>(call.dtype);
      break;
    case kAllGather:
      text << "all_gather of rows of " << call.elements << " " << static_cast<DType>(call.dtype);
      break;
    case kBarrier:
      text << "barrier";
      break;
    default:
      text << "unknown collective " << call.kind;
  }
  return text.str();
}

class MpiProcessGroup final : public ProcessGroup {
 public:
  MpiProcessGroup(int rank, int size, bool owns_mpi) : ProcessGroup(rank, size), owns_mpi_(owns_mpi) {
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &data_), "MPI_Comm_dup");
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &control_), "MPI_Comm_dup");
    // Errors come back as status codes (thrown as wisp::Error) instead of ending the process.
    MPI_Comm_set_errhandler(data_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(control_, MPI_ERRORS_RETURN);
  }

  ~MpiProcessGroup() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
#if WISP_WITH_NCCL
    nccl_.clear();  // NCCL's communicators go before MPI does
#endif
    // Each rank tells rank 0 how many collectives it called, so that rank 0, if still waiting in a
    // later one, reports the rank that skipped a collective or stopped early at once (poll_control)
    // rather than after the timeout. Rank 0 receives them here so that none is left unmatched.
    uint64_t count = collectives();
    if (rank() != 0) {
      MPI_Send(&count, 1, MPI_UINT64_T, 0, kLeaveTag, control_);
    } else {
      for (int r = 1; r < size(); ++r) MPI_Recv(&count, 1, MPI_UINT64_T, r, kLeaveTag, control_, MPI_STATUS_IGNORE);
    }
    MPI_Comm_free(&data_);
    MPI_Comm_free(&control_);
    if (owns_mpi_) MPI_Finalize();
  }

  std::string backend() const override { return "mpi"; }

  void all_reduce(Tensor& tensor, ReduceOp op) override {
    check_collective_tensor(tensor, op);
#if WISP_WITH_NCCL
    if (tensor.is_cuda()) {
      cuda::NcclCommunicator& communicator = nccl(tensor.device());
      CallDescription call = begin(kAllReduce, tensor.dtype(), tensor.numel());
      call.op = static_cast<int32_t>(op);
      Collective collective(*this, call);
      communicator.all_reduce(tensor.raw_data(), tensor.numel(), tensor.dtype(), nccl_op(op));
      collective.wait(communicator);
      collective.finish();
      return;
    }
#endif
    CallDescription call = begin(kAllReduce, tensor.dtype(), tensor.numel());
    call.op = static_cast<int32_t>(op);
    Collective collective(*this, call);
    Tensor host = tensor.is_cuda() ? tensor.cpu() : tensor;
    const MPI_Datatype type = mpi_type(host.dtype());
    char* data = static_cast<char*>(host.raw_data());
    const size_t element_bytes = host.nbytes() / std::max<int64_t>(host.numel(), 1);
    for (int64_t start = 0; start < host.numel(); start += kMaxPieceElements) {
      const int count = static_cast<int>(std::min(kMaxPieceElements, host.numel() - start));
      MPI_Request request;
      check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + start * element_bytes, count, type, mpi_op(op), data_, &request),
                "MPI_Iallreduce");
      collective.wait(request);
    }
    collective.finish();
    if (op == ReduceOp::Mean) {
      float* values = host.data<float>();
      const float divisor = static_cast<float>(size());
      for (int64_t i = 0; i < host.numel(); ++i) values[i] /= divisor;
    }
    if (tensor.is_cuda()) tensor.copy_(host);
  }

  void broadcast(Tensor& tensor, int root) override {
    WISP_CHECK(tensor.defined(), "broadcast: expected a tensor but got an undefined one");
    WISP_CHECK(root >= 0 && root < size(), "broadcast: expected a root rank in [0, ", size(), ") but got ", root);
#if WISP_WITH_NCCL
    if (tensor.is_cuda()) {
      cuda::NcclCommunicator& communicator = nccl(tensor.device());
      CallDescription call = begin(kBroadcast, tensor.dtype(), tensor.numel());
      call.op = root;
      Collective collective(*this, call);
      communicator.broadcast(tensor.raw_data(), static_cast<int64_t>(tensor.nbytes()), DType::UInt8, root);
      collective.wait(communicator);
      collective.finish();
      return;
    }
#endif
    CallDescription call = begin(kBroadcast, tensor.dtype(), tensor.numel());
    call.op = root;
    Collective collective(*this, call);
    Tensor host = tensor.is_cuda() ? tensor.cpu() : tensor;
    char* data = static_cast<char*>(host.raw_data());
    const int64_t bytes = static_cast<int64_t>(host.nbytes());
    for (int64_t start = 0; start < bytes; start += kMaxPieceElements) {
      const int count = static_cast<int>(std::min(kMaxPieceElements, bytes - start));
      MPI_Request request;
      check_mpi(MPI_Ibcast(data + start, count, MPI_BYTE, root, data_, &request), "MPI_Ibcast");
      collective.wait(request);
    }
    collective.finish();
    if (tensor.is_cuda()) tensor.copy_(host);
  }

  Tensor all_gather(const Tensor& tensor) override {
    WISP_CHECK(tensor.defined(), "all_gather: expected a tensor but got an undefined one");
#if WISP_WITH_NCCL
    if (tensor.is_cuda()) return all_gather_nccl(tensor.dim() == 0 ? tensor.reshape({1}) : tensor);
#endif
    const Tensor input = (tensor.dim() == 0 ? tensor.reshape({1}) : tensor).cpu();
    const int64_t rows = input.shape()[0];
    const int64_t row_elements = rows > 0 ? input.numel() / rows : element_count_after_first(input.shape());
    mpi_type(input.dtype());  // checks the dtype
    CallDescription call = begin(kAllGather, input.dtype(), row_elements);
    Collective collective(*this, call);
    const std::vector<int64_t> all_rows = collective.row_counts(rows);
    const int64_t element_bytes = static_cast<int64_t>(element_size(input.dtype()));
    std::vector<int> counts(all_rows.size()), offsets(all_rows.size());
    int64_t total_rows = 0;
    for (size_t r = 0; r < all_rows.size(); ++r) {
      const int64_t bytes = all_rows[r] * row_elements * element_bytes;
      const int64_t offset = total_rows * row_elements * element_bytes;
      WISP_CHECK(offset + bytes <= std::numeric_limits<int>::max(), "all_gather: expected at most 2 GiB in all but ",
                 "the ranks' tensors hold more");
      counts[r] = static_cast<int>(bytes);
      offsets[r] = static_cast<int>(offset);
      total_rows += all_rows[r];
    }
    std::vector<int64_t> dims = input.shape().dims();
    dims[0] = total_rows;
    Tensor output = zeros(Shape(dims), input.dtype());
    MPI_Request request;
    check_mpi(MPI_Iallgatherv(input.raw_data(), counts[static_cast<size_t>(rank())], MPI_BYTE, output.raw_data(),
                              counts.data(), offsets.data(), MPI_BYTE, data_, &request),
              "MPI_Iallgatherv");
    collective.wait(request);
    collective.finish();
    return tensor.is_cuda() ? output.to(tensor.device()) : output;
  }

  void barrier() override {
    Collective collective(*this, begin(kBarrier, DType::UInt8, 0));
    MPI_Request request;
    check_mpi(MPI_Ibarrier(data_, &request), "MPI_Ibarrier");
    collective.wait(request);
    collective.finish();
  }

  [[noreturn]] void abort_job(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this only tells the compiler so
  }

 private:
#if WISP_WITH_NCCL
  static cuda::NcclReduceOp nccl_op(ReduceOp op) {
    switch (op) {
      case ReduceOp::Sum:
        return cuda::NcclReduceOp::Sum;
      case ReduceOp::Mean:
        return cuda::NcclReduceOp::Mean;
      case ReduceOp::Max:
        return cuda::NcclReduceOp::Max;
      case ReduceOp::Min:
        return cuda::NcclReduceOp::Min;
    }
    return cuda::NcclReduceOp::Sum;
  }

  // The NCCL communicator of `device`'s GPU, created at the first collective of a tensor there: rank
  // 0's unique id reaches the others over MPI (every rank calls the same collectives in the same
  // order, so they all create it at the same point).
  cuda::NcclCommunicator& nccl(const Device& device) {
    std::unique_ptr<cuda::NcclCommunicator>& communicator = nccl_[device.index];
    if (!communicator) {
      const std::string id = broadcast_bytes(rank() == 0 ? cuda::nccl_unique_id() : std::string(), 0);
      communicator = std::make_unique<cuda::NcclCommunicator>(id, rank(), size(), device.index);
    }
    return *communicator;
  }

  // NCCL's all_gather takes equal counts: every rank sends its rows padded to the most rows, and the
  // padding is dropped afterwards.
  Tensor all_gather_nccl(const Tensor& input) {
    cuda::NcclCommunicator& communicator = nccl(input.device());
    const int64_t rows = input.shape()[0];
    const int64_t row_elements = element_count_after_first(input.shape());
    CallDescription call = begin(kAllGather, input.dtype(), row_elements);
    Collective collective(*this, call);
    const std::vector<int64_t> all_rows = collective.row_counts(rows);
    const int64_t most_rows = *std::max_element(all_rows.begin(), all_rows.end());
    int64_t total_rows = 0;
    for (const int64_t r : all_rows) total_rows += r;
    const size_t row_bytes = static_cast<size_t>(row_elements) * element_size(input.dtype());
    const TensorOptions options = TensorOptions(input.dtype()).device(input.device());
    std::vector<int64_t> dims = input.shape().dims();
    dims[0] = most_rows;
    Tensor padded = zeros(Shape(dims), options);
    copy_bytes(padded.raw_data(), padded.device(), input.raw_data(), input.device(),
               static_cast<size_t>(rows) * row_bytes);
    dims[0] = most_rows * size();
    Tensor received = zeros(Shape(dims), options);
    communicator.all_gather(padded.raw_data(), received.raw_data(), most_rows * row_elements, input.dtype());
    collective.wait(communicator);
    collective.finish();
    dims[0] = total_rows;
    Tensor output = zeros(Shape(dims), options);
    size_t offset = 0;
    for (size_t r = 0; r < all_rows.size(); ++r) {
      const size_t bytes = static_cast<size_t>(all_rows[r]) * row_bytes;
      copy_bytes(static_cast<char*>(output.raw_data()) + offset, output.device(),
                 static_cast<const char*>(received.raw_data()) + r * static_cast<size_t>(most_rows) * row_bytes,
                 received.device(), bytes);
      offset += bytes;
    }
    return output;
  }
#endif

  static int64_t element_count_after_first(const Shape& shape) {
    int64_t count = 1;
    for (size_t i = 1; i < shape.size(); ++i) count *= shape[i];
    return count;
  }

  CallDescription begin(Kind kind, DType dtype, int64_t elements) {
    CallDescription call;
    call.number = next_collective();
    call.kind = kind;
    call.dtype = static_cast<int32_t>(dtype);
    call.elements = elements;
    return call;
  }

  // One numbered collective: announces the arrival, checks the call in debug mode, and waits for
  // each of its MPI requests with the group's timeout.
  class Collective {
   public:
    Collective(MpiProcessGroup& group, const CallDescription& call)
        : group_(group), call_(call), start_(std::chrono::steady_clock::now()) {
      const int size = group.size();
      if (group.rank() == 0) {
        arrivals_.assign(static_cast<size_t>(size), call_.number);  // rank 0's own entry compares equal
        arrival_requests_.assign(static_cast<size_t>(size), MPI_REQUEST_NULL);
        for (int r = 1; r < size; ++r) {
          check_mpi(MPI_Irecv(&arrivals_[static_cast<size_t>(r)], 1, MPI_UINT64_T, r, kArrivalTag, group.control_,
                              &arrival_requests_[static_cast<size_t>(r)]),
                    "MPI_Irecv");
          send_requests_.emplace_back();
          check_mpi(
              MPI_Isend(&call_.number, 1, MPI_UINT64_T, r, kRootArrivalTag, group.control_, &send_requests_.back()),
              "MPI_Isend");
        }
      } else {
        arrivals_.assign(1, 0);
        arrival_requests_.assign(1, MPI_REQUEST_NULL);
        check_mpi(MPI_Irecv(&arrivals_[0], 1, MPI_UINT64_T, 0, kRootArrivalTag, group.control_, &arrival_requests_[0]),
                  "MPI_Irecv");
        send_requests_.emplace_back();
        check_mpi(MPI_Isend(&call_.number, 1, MPI_UINT64_T, 0, kArrivalTag, group.control_, &send_requests_.back()),
                  "MPI_Isend");
      }
      arrival_compared_.assign(arrivals_.size(), false);
      if (group.debug()) compare_calls();
    }

    Collective(const Collective&) = delete;
    Collective& operator=(const Collective&) = delete;
    // Left by an exception: MPI must not write into this object's buffers afterwards.
    ~Collective() {
      for (MPI_Request& request : arrival_requests_) {
        if (request == MPI_REQUEST_NULL) continue;
        MPI_Cancel(&request);
        MPI_Request_free(&request);
      }
    }

    // Waits for `request`, giving up after the group's timeout (counted from the collective's start).
    void wait(MPI_Request& request) {
      int spins = 0;
      for (;;) {
        int done = 0;
        check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) return;
        poll_control();
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (waited > group_.timeout()) time_out(waited);
        // Spin briefly (a collective between busy ranks ends within microseconds), then yield the
        // core: ranks may share cores with each other and with their compute threads.
        ++spins;
        if (spins < 200) continue;
        if (spins < 2000) sched_yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(spins < 20000 ? 20 : 500));
      }
    }

    // Every rank's `rows`, in rank order: the first phase of all_gather.
    std::vector<int64_t> row_counts(int64_t rows) {
      std::vector<int64_t> all_rows(static_cast<size_t>(group_.size()));
      MPI_Request request;
      check_mpi(MPI_Iallgather(&rows, 1, MPI_INT64_T, all_rows.data(), 1, MPI_INT64_T, group_.data_, &request),
                "MPI_Iallgather");
      wait(request);
      return all_rows;
    }

#if WISP_WITH_NCCL
    // Waits for the communicator's queued collectives, in slices, so that the timeout and the
    // arrival checks apply as to MPI's; on a timeout the communicator is aborted first.
    void wait(cuda::NcclCommunicator& communicator) {
      for (;;) {
        if (communicator.wait(0.05)) return;
        poll_control();
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (waited > group_.timeout()) {
          communicator.abort();
          time_out(waited);
        }
      }
    }
#endif

    // Waits for the arrival messages too (they came before the collective could complete).
    void finish() {
      for (MPI_Request& request : send_requests_) wait(request);
      for (MPI_Request& request : arrival_requests_) wait(request);
      compare_arrivals();
    }

   private:
    void poll_control() {
      for (MPI_Request& request : arrival_requests_) {
        if (request == MPI_REQUEST_NULL) continue;
        int done = 0;
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      }
      compare_arrivals();
      if (group_.rank() != 0) return;
      // A rank that has not arrived may have left the job (its destructor's message) after fewer
      // collectives than this one: nothing can match this collective any more.
      for (size_t r = 1; r < arrival_requests_.size(); ++r) {
        if (arrival_requests_[r] == MPI_REQUEST_NULL) continue;
        int left = 0;
        MPI_Iprobe(static_cast<int>(r), kLeaveTag, group_.control_, &left, MPI_STATUS_IGNORE);
        if (!left) continue;
        // Its arrival, sent before it left, may have come in since the test above.
        int arrived = 0;
        MPI_Test(&arrival_requests_[r], &arrived, MPI_STATUS_IGNORE);
        if (arrived) continue;  // compared by the next compare_arrivals()
        uint64_t count = 0;
        MPI_Recv(&count, 1, MPI_UINT64_T, static_cast<int>(r), kLeaveTag, group_.control_, MPI_STATUS_IGNORE);
        abort_on_mismatch(static_cast<int>(r), " leaving the job after its collective #" + std::to_string(count));
      }
    }

    // The k-th arrival message from a rank carries its k-th collective's number; a different number
    // means the ranks' collectives are paired wrongly (an arrival of an earlier collective was left
    // unreceived, say by an exception), and MPI would combine unrelated data without an error.
    void compare_arrivals() {
      for (size_t r = 0; r < arrival_requests_.size(); ++r) {
        if (arrival_compared_[r] || arrival_requests_[r] != MPI_REQUEST_NULL) continue;
        arrival_compared_[r] = true;
        if (arrivals_[r] == call_.number) continue;
        const int other = group_.rank() == 0 ? static_cast<int>(r) : 0;
        abort_on_mismatch(other, "'s collective #" + std::to_string(arrivals_[r]));
      }
    }

    [[noreturn]] void abort_on_mismatch(int other_rank, const std::string& other_side) {
      std::ostringstream message;
      message << "wisp distributed: rank " << group_.rank() << " of " << group_.size() << ": collective #"
              << call_.number << " (" << describe(call_) << ") was matched with rank " << other_rank << other_side
              << ": a rank skipped or added a collective. Aborting the job.\n";
      std::fputs(message.str().c_str(), stderr);
      group_.abort_job(3);
    }

    // Debug mode: every rank learns every rank's call and all throw the same error on a difference.
    void compare_calls() {
      std::vector<CallDescription> calls(static_cast<size_t>(group_.size()));
      MPI_Request request;
      check_mpi(MPI_Iallgather(&call_, sizeof(CallDescription), MPI_BYTE, calls.data(), sizeof(CallDescription),
                               MPI_BYTE, group_.data_, &request),
                "MPI_Iallgather");
      wait(request);
      for (size_t r = 1; r < calls.size(); ++r) {
        const CallDescription& a = calls[0];
        const CallDescription& b = calls[r];
        if (a.number != b.number || a.kind != b.kind || a.op != b.op || a.dtype != b.dtype ||
            a.elements != b.elements) {
          finish();
          WISP_FAIL("distributed debug mode: the ranks call different collectives: rank 0 calls collective #", a.number,
                    ", ", describe(a), ", but rank ", r, " calls collective #", b.number, ", ", describe(b));
        }
      }
    }

    [[noreturn]] void time_out(double waited) {
      std::ostringstream message;
      message << "wisp distributed: rank " << group_.rank() << " of " << group_.size() << ": collective #"
              << call_.number << " (" << describe(call_) << ") did not complete within " << group_.timeout()
              << " s (WISP_DISTRIBUTED_TIMEOUT); ";
      poll_control();
      if (group_.rank() == 0) {
        std::vector<int> missing;
        for (size_t r = 1; r < arrival_requests_.size(); ++r)
          if (arrival_requests_[r] != MPI_REQUEST_NULL) missing.push_back(static_cast<int>(r));
        if (missing.empty()) {
          message << "every rank arrived at it, so the communication itself stalled";
        } else {
          message << "ranks that did not arrive at it:";
          for (int r : missing) message << ' ' << r;
        }
      } else if (arrival_requests_[0] != MPI_REQUEST_NULL) {
        message << "rank 0 did not arrive at it";
      } else {
        message << "rank 0 arrived at it too and names the ranks that did not";
      }
      message << ". Aborting the job.\n";
      std::fputs(message.str().c_str(), stderr);
      group_.abort_job(3);
    }

    MpiProcessGroup& group_;
    CallDescription call_;
    std::chrono::steady_clock::time_point start_;
    std::vector<uint64_t> arrivals_;
    std::vector<MPI_Request> arrival_requests_;
    std::vector<bool> arrival_compared_;
    std::vector<MPI_Request> send_requests_;
  };

  bool owns_mpi_;
#if WISP_WITH_NCCL
  std::map<int, std::unique_ptr<cuda::NcclCommunicator>> nccl_;  // by GPU index
#endif
  MPI_Comm data_ = MPI_COMM_NULL;
  MPI_Comm control_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<ProcessGroup> make_mpi_process_group() {
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  bool owns_mpi = false;
  if (!initialized) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_mpi = true;
  }
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  return std::make_unique<MpiProcessGroup>(rank, size, owns_mpi);
}

}  // namespace wisp::distributed
#endif  // WISP_WITH_MPI
