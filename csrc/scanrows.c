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
        /* Held while the row is made: an allocation may run a collection, and through it
         * code that replaces the dict's entry. */
        Py_INCREF(entry);
        PyObject *row = pair(key, p + TRAILER_BYTES, PyBytes_GET_SIZE(entry) - TRAILER_BYTES);
        Py_DECREF(entry);
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

/* A run's view, parsed once a call: see merged_rows in scanrows.h. */
typedef struct {
    const uint8_t *buf;
    uint64_t len, keys_at, offs_at, values_at, voffs_at;
    PyObject *values; /* borrowed list, or NULL: values are in buf */
} run_view;

static int parse_view(PyObject *view, run_view *out) {
    if (view == Py_None) {
        out->buf = NULL;
        return 0;
    }
    if (!PyTuple_CheckExact(view) || PyTuple_GET_SIZE(view) != 6 ||
        !PyBytes_CheckExact(PyTuple_GET_ITEM(view, 0))) {
        PyErr_SetString(PyExc_TypeError, "merged_rows: a view is (buf, keys_at, offs_at, "
                                         "values_at, voffs_at, values)");
        return -1;
    }
    PyObject *buf = PyTuple_GET_ITEM(view, 0);
    out->buf = (const uint8_t *)PyBytes_AS_STRING(buf);
    out->len = (uint64_t)PyBytes_GET_SIZE(buf);
    uint64_t *fields[4] = {&out->keys_at, &out->offs_at, &out->values_at, &out->voffs_at};
    for (int f = 0; f < 4; f++) {
        Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(view, f + 1));
        if (v == -1 && PyErr_Occurred()) return -1;
        *fields[f] = (uint64_t)v; /* (a negative voffs_at is never read: values is a list) */
    }
    PyObject *values = PyTuple_GET_ITEM(view, 5);
    if (values != Py_None && !PyList_CheckExact(values)) {
        PyErr_SetString(PyExc_TypeError, "merged_rows: a view's values are a list or None");
        return -1;
    }
    out->values = values == Py_None ? NULL : values;
    return 0;
}

/* The (key, value) row of entry i of a view; NULL with ValueError when out of bounds. */
static PyObject *view_row(const run_view *v, uint64_t i) {
    const uint8_t *b = v->buf;
    if (!b || v->offs_at + 4 * i + 8 > v->len) goto bad;
    uint32_t ka = load_u32(b + v->offs_at + 4 * i), kb = load_u32(b + v->offs_at + 4 * i + 4);
    if (kb < ka || v->keys_at + kb > v->len) goto bad;
    PyObject *key = PyBytes_FromStringAndSize((const char *)b + v->keys_at + ka, kb - ka);
    if (!key) return NULL;
    PyObject *row;
    if (v->values) {
        if ((Py_ssize_t)i >= PyList_GET_SIZE(v->values)) {
            Py_DECREF(key);
            goto bad;
        }
        row = PyTuple_Pack(2, key, PyList_GET_ITEM(v->values, (Py_ssize_t)i));
    } else {
        if (v->voffs_at + 4 * i + 8 > v->len) {
            Py_DECREF(key);
            goto bad;
        }
        uint32_t va = load_u32(b + v->voffs_at + 4 * i);
        uint32_t vb = load_u32(b + v->voffs_at + 4 * i + 4);
        if (vb < va || v->values_at + vb > v->len) {
            Py_DECREF(key);
            goto bad;
        }
        row = pair(key, (const char *)b + v->values_at + va, vb - va);
    }
    Py_DECREF(key);
    return row;
bad:
    PyErr_SetString(PyExc_ValueError, "merged_rows: an entry lies outside its view");
    return NULL;
}

#define MAX_VIEWS 64

static PyObject *py_merged_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1]) ||
        !PyList_CheckExact(args[2]) || PyList_GET_SIZE(args[1]) != PyList_GET_SIZE(args[2])) {
        PyErr_SetString(PyExc_TypeError, "merged_rows(views: list, runs: list, idxs: list)");
        return NULL;
    }
    PyObject *views = args[0], *runs = args[1], *idxs = args[2];
    Py_ssize_t nviews = PyList_GET_SIZE(views);
    run_view stack_views[MAX_VIEWS];
    run_view *parsed = nviews <= MAX_VIEWS ? stack_views : PyMem_Malloc(sizeof(run_view) * nviews);
    if (!parsed) return PyErr_NoMemory();
    PyObject *rows = NULL;
    for (Py_ssize_t r = 0; r < nviews; r++)
        if (parse_view(PyList_GET_ITEM(views, r), &parsed[r]) < 0) goto done;
    Py_ssize_t n = PyList_GET_SIZE(runs);
    rows = PyList_New(n);
    if (!rows) goto done;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t r = PyLong_AsSsize_t(PyList_GET_ITEM(runs, j));
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(idxs, j));
        if ((r == -1 || i == -1) && PyErr_Occurred()) goto fail;
        if (r < 0 || r >= nviews || i < 0) {
            PyErr_SetString(PyExc_IndexError, "merged_rows: a run or index out of range");
            goto fail;
        }
        PyObject *row = view_row(&parsed[r], (uint64_t)i);
        if (!row) goto fail;
        PyList_SET_ITEM(rows, j, row);
    }
    goto done;
fail:
    Py_CLEAR(rows);
done:
    if (parsed != stack_views) PyMem_Free(parsed);
    return rows;
}

static PyMethodDef scan_methods[] = {
    {"visible_rows", (PyCFunction)(void (*)(void))py_visible_rows, METH_FASTCALL,
     "visible_rows(keys, data, seqno, start) -> (rows, stop)"},
    {"block_rows", (PyCFunction)(void (*)(void))py_block_rows, METH_FASTCALL,
     "block_rows(raw, lo, hi, reverse) -> rows"},
    {"merged_rows", (PyCFunction)(void (*)(void))py_merged_rows, METH_FASTCALL,
     "merged_rows(views, runs, idxs) -> rows"},
};

void *shale_scan_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *out =
        shale_function_tuple(scan_methods, (int)(sizeof scan_methods / sizeof scan_methods[0]));
    PyGILState_Release(g);
    return out;
}
