/* Shared by the csrc/ modules that hand CPython functions to Python (see
 * engine/codec/capi.py): internal to engine._native, so no .cdef declares it. */
#ifndef SHALE_PYFUNCS_H
#define SHALE_PYFUNCS_H

#include <Python.h>

/* A new tuple of the n functions of defs (module-less CPython functions), or NULL with a
 * Python error set. The caller holds the GIL. */
PyObject *shale_function_tuple(PyMethodDef *defs, int n);

#endif
