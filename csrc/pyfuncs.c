/* See pyfuncs.h. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyfuncs.h"

PyObject *shale_function_tuple(PyMethodDef *defs, int n) {
    PyObject *out = PyTuple_New(n);
    for (int i = 0; out && i < n; i++) {
        PyObject *f = PyCFunction_New(&defs[i], NULL);
        if (!f) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, f);
    }
    return out;
}
