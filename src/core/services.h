/*
 * services.h: the services the core gives handlers (handler.h's struct
 * handler_services), over the event loop.
 */
#ifndef DGRAMD_SERVICES_H
#define DGRAMD_SERVICES_H

#include "handler.h"

struct reactor;

/* The services of the loop r. */
struct handler_services	services_of(struct reactor *r);

#endif
