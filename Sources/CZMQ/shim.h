#include <zmq.h>
#include <malloc.h>  // mallopt: keeping large message buffers mapped (MessageBuffers)
// Accepted at runtime but hidden by the header without the draft API.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
static const int GB_ZMQ_ZAP_ENFORCE_DOMAIN = ZMQ_ZAP_ENFORCE_DOMAIN;
