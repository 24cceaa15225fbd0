/* Shared header of engine._native: each C source in csrc/ declares its public functions
 * here (or in a header included from here), matching its .cdef file. */
#ifndef SHALE_NATIVE_H
#define SHALE_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ShaleDB's on-disk arrays are little-endian and read in place: big-endian hosts are unsupported"
#endif

#include "merge.h"
#include "block.h"
#include "keycodec.h"
#include "itemcodec.h"
#include "walframe.h"
#include "batchops.h"
#include "scanrows.h"

#endif
