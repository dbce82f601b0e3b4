// Reading and writing IDX files, the format of MNIST and Fashion-MNIST.
//
// An IDX file is a 4-byte magic number — two zero bytes, a dtype code, the rank — then `rank`
// big-endian uint32 dimension sizes, then the elements, big-endian, row-major. Files may be
// gzip-compressed; read_idx recognises gzip by its magic bytes (1f 8b), not by the file name. A
// gzip file may hold several concatenated members (RFC 1952; `gzip -d` reads them as one stream,
// and so does read_idx), but nothing after the last member: trailing bytes that do not start
// another member are an error, as trailing bytes of a raw file are.
//
// Memory: a raw file is checked against its size before anything is allocated; a gzip file's
// buffer grows as decompressed data arrives, so a header that claims more data than the file holds
// costs only the data that is there.
//
// Thread-safety: the functions are reentrant; concurrent calls on different files are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "wisp/core/tensor.h"

namespace wisp::data {

// Reads the IDX file at `path` (raw or gzip) into a new CPU tensor whose shape is the file's
// dimensions. Element types map as follows:
//   0x08 unsigned byte             -> UInt8
//   0x09 signed byte, 0x0B int16,
//   0x0C int32                     -> Int32
//   0x0D float32                   -> Float32
//   0x0E float64                   -> Float32 (rounded)
// Throws wisp::Error naming `path` and the mismatch when the file is missing, unreadable, not a
// regular file (a FIFO, a device: refused before reading, since reading could block or never
// end), empty, has a wrong magic number, an unknown dtype code, rank 0 or a rank above 16, a
// truncated header, fewer or more data bytes than its dimensions need, a corrupt gzip stream, or
// bytes after its gzip stream.
Tensor read_idx(const std::string& path);

// read_idx for the `size` bytes at `bytes` (raw or gzip, detected the same way), e.g. a file
// already in memory; errors name the bytes `name` where read_idx names the path.
Tensor parse_idx(const uint8_t* bytes, size_t size, const std::string& name);

// Writes `tensor` (UInt8 -> 0x08, Int32 -> 0x0C, Float32 -> 0x0D; rank 1 to 16, on any device)
// to `path` as an IDX file, gzip-compressed when `gzip` is true, replacing any existing file.
// Throws wisp::Error naming `path` for other dtypes, a 0-d tensor, a dimension above 2^32 - 1,
// or a failed write.
void write_idx(const std::string& path, const Tensor& tensor, bool gzip = false);

}  // namespace wisp::data
