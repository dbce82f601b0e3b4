// The user project's own core/tensor.h (a name wisp uses too): wisp's headers must never pick it up, since they
// include each other as "wisp/core/tensor.h". Reaching this line means one of them did.
#error "consumer's own core/tensor.h was included by a wisp header: wisp headers must include \"wisp/core/tensor.h\""
