// The user project's own layers/linear.h (a name wisp uses too): wisp's headers must never pick it up, since they
// include each other as "wisp/layers/linear.h". Reaching this line means one of them did.
#error                                                                                                                 \
    "consumer's own layers/linear.h was included by a wisp header: wisp headers must include \"wisp/layers/linear.h\""
