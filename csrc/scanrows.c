/* See scanrows.h. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyfuncs.h"
#include "scanrows.h"
#include "shale_bytes.h"

#define TRAILER_BYTES 8

static PyObject *pair(PyObject *key, const char *value, Py_ssize_t len) {
    PyObject *v = PyBytes_FromStringAndSize(value, len);
    if (!v) return NULL;
    PyObject *row = PyTuple_New(2);
    if (!row) {
        Py_DECREF(v);
        return NULL;
    }
    PyTuple_SET_ITEM(row, 0, Py_NewRef(key));
    PyTuple_SET_ITEM(row, 1, v);
    return row;
}

static PyObject *py_visible_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "visible_rows(keys: list, data: dict, seqno, start)");
        return NULL;
    }
    PyObject *keys = args[0], *data = args[1];
    unsigned long long seqno = PyLong_AsUnsignedLongLong(args[2]);
    if (seqno == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    Py_ssize_t start = PyLong_AsSsize_t(args[3]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (start < 0) start = 0;
    PyObject *rows = PyList_New(0);
    if (!rows) return NULL;
    Py_ssize_t i = start;
    for (; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *entry = PyDict_GetItemWithError(data, key); /* borrowed */
        if (!entry) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
            goto fail;
        }
        if (!PyBytes_CheckExact(entry) || PyBytes_GET_SIZE(entry) < TRAILER_BYTES) {
            PyErr_SetString(PyExc_ValueError, "visible_rows: a memtable entry is not bytes");
            goto fail;
        }
        const char *p = PyBytes_AS_STRING(entry);
        uint64_t trailer = load_u64((const uint8_t *)p);
        if ((trailer >> 8) > seqno) break; /* newer than the read: the caller looks older */
        if (!(trailer & 0xFF)) continue;  /* a tombstone */
        PyObject *row = pair(key, p + TRAILER_BYTES, PyBytes_GET_SIZE(entry) - TRAILER_BYTES);
        if (!row) goto fail;
        int rc = PyList_Append(rows, row);
        Py_DECREF(row);
        if (rc < 0) goto fail;
    }
    return Py_BuildValue("(Nn)", rows, i);
fail:
    Py_DECREF(rows);
    return NULL;
}

static PyObject *malformed(void) {
    PyErr_SetString(PyExc_ValueError, "block_rows: malformed data block");
    return NULL;
}

static PyObject *py_block_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "block_rows(raw: bytes, lo, hi, reverse)");
        return NULL;
    }
    const uint8_t *raw = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    uint64_t len = (uint64_t)PyBytes_GET_SIZE(args[0]);
    Py_ssize_t lo = PyLong_AsSsize_t(args[1]);
    if (lo == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t hi = PyLong_AsSsize_t(args[2]);
    if (hi == -1 && PyErr_Occurred()) return NULL;
    int reverse = PyObject_IsTrue(args[3]);
    if (reverse < 0) return NULL;
    if (len < 8) return malformed();
    uint64_t count = load_u32(raw);
    uint64_t koffs_at = 8;
    uint64_t voffs_at = koffs_at + 4 * (count + 1);
    uint64_t keys_at = voffs_at + 4 * (count + 1) + 8 * count;
    if (keys_at > len) return malformed();
    uint64_t key_area = load_u32(raw + koffs_at + 4 * count);
    uint64_t values_at = keys_at + key_area;
    if (values_at > len) return malformed();
    if (lo < 0 || hi < lo || (uint64_t)hi > count) {
        PyErr_SetString(PyExc_IndexError, "block_rows: entries out of range");
        return NULL;
    }
    PyObject *rows = PyList_New(hi - lo);
    if (!rows) return NULL;
    for (Py_ssize_t j = 0; j < hi - lo; j++) {
        uint64_t i = (uint64_t)(reverse ? hi - 1 - j : lo + j);
        uint32_t ka = load_u32(raw + koffs_at + 4 * i), kb = load_u32(raw + koffs_at + 4 * i + 4);
        uint32_t va = load_u32(raw + voffs_at + 4 * i), vb = load_u32(raw + voffs_at + 4 * i + 4);
        if (kb < ka || kb > key_area || vb < va || values_at + vb > len) {
            Py_DECREF(rows);
            return malformed();
        }
        PyObject *key = PyBytes_FromStringAndSize((const char *)raw + keys_at + ka, kb - ka);
        if (!key) {
            Py_DECREF(rows);
            return NULL;
        }
        PyObject *row = pair(key, (const char *)raw + values_at + va, vb - va);
        Py_DECREF(key);
        if (!row) {
            Py_DECREF(rows);
            return NULL;
        }
        PyList_SET_ITEM(rows, j, row);
    }
    return rows;
}

static PyMethodDef scan_methods[] = {
    {"visible_rows", (PyCFunction)(void (*)(void))py_visible_rows, METH_FASTCALL,
     "visible_rows(keys, data, seqno, start) -> (rows, stop)"},
    {"block_rows", (PyCFunction)(void (*)(void))py_block_rows, METH_FASTCALL,
     "block_rows(raw, lo, hi, reverse) -> rows"},
};

void *shale_scan_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *out =
        shale_function_tuple(scan_methods, (int)(sizeof scan_methods / sizeof scan_methods[0]));
    PyGILState_Release(g);
    return out;
}
