// The user project's own optim/sgd.h (a name wisp uses too): wisp's headers must never pick it up, since they
// include each other as "wisp/optim/sgd.h". Reaching this line means one of them did.
#error "consumer's own optim/sgd.h was included by a wisp header: wisp headers must include \"wisp/optim/sgd.h\""
