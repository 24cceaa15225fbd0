/* Write batches in C: see batchops.h. Both functions do, in one call per batch, what
 * engine/storage's Python loops did with some fifty interpreted steps per operation. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "batchops.h"
#include "pyfuncs.h"

#include <string.h>

#define OP_HEADER 9 /* kind u8 | keyspace id u32 | key length u32 */
#define VALUE_LEN 4
#define KIND_TOMBSTONE 0
#define KIND_VALUE 1
#define MAX_BODY ((Py_ssize_t)1 << 30)
#define ENTRY_OVERHEAD_BYTES 48 /* engine.storage.memtable.ENTRY_OVERHEAD_BYTES */

static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static PyObject *s_tables, *s_table, *s_data, *s_new, *s_older;
static PyObject *kind_objs[2];

/* Memtable.keep_older: remember ``old``, the data entry of ``key`` about to be replaced
 * (u64 trailer | value), as an older version in table.older[key], a list of
 * (u64 trailer | u32 value length | value). 0, or -1 with an exception set. */
static int keep_older(PyObject *table, PyObject *key, PyObject *old) {
    if (!PyBytes_CheckExact(old) || PyBytes_GET_SIZE(old) < 8) {
        PyErr_SetString(PyExc_TypeError, "a memtable entry is bytes of 8 or more");
        return -1;
    }
    PyObject *older = PyObject_GetAttr(table, s_older);
    if (!older) return -1;
    if (!PyDict_CheckExact(older)) {
        PyErr_SetString(PyExc_TypeError, "memtable.older must be a dict");
        Py_DECREF(older);
        return -1;
    }
    Py_ssize_t vlen = PyBytes_GET_SIZE(old) - 8;
    int rc = -1;
    PyObject *packed = PyBytes_FromStringAndSize(NULL, 12 + vlen);
    if (packed) {
        uint8_t *p = (uint8_t *)PyBytes_AS_STRING(packed);
        const char *o = PyBytes_AS_STRING(old);
        memcpy(p, o, 8);
        put_u32(p + 8, (uint32_t)vlen);
        memcpy(p + 12, o + 8, (size_t)vlen);
        PyObject *kept = PyDict_GetItemWithError(older, key); /* borrowed */
        if (kept) {
            if (PyList_CheckExact(kept)) {
                rc = PyList_Append(kept, packed);
            } else {
                PyErr_SetString(PyExc_TypeError, "memtable.older maps keys to lists");
            }
        } else if (!PyErr_Occurred()) {
            PyObject *list = PyList_New(1);
            if (list) {
                PyList_SET_ITEM(list, 0, Py_NewRef(packed));
                rc = PyDict_SetItem(older, key, list);
                Py_DECREF(list);
            }
        }
        Py_DECREF(packed);
    }
    Py_DECREF(older);
    return rc;
}

/* encode_batch(ops, ksids) -> (ops list, body, user bytes) | None */
static PyObject *py_encode_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "encode_batch(ops: dict, ksids: dict)");
        return NULL;
    }
    PyObject *batch = args[0], *ksids = args[1];
    Py_ssize_t n = PyDict_GET_SIZE(batch);
    /* pass 1: resolve keyspaces, check types, size the body */
    Py_ssize_t pos = 0, total = 0, user = 0;
    PyObject *k, *v;
    while (PyDict_Next(batch, &pos, &k, &v)) {
        if (!PyTuple_CheckExact(k) || PyTuple_GET_SIZE(k) != 2 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(k, 1)) ||
            (v != Py_None && !PyBytes_CheckExact(v))) {
            PyErr_SetString(PyExc_TypeError, "a batch maps (keyspace, key bytes) to bytes or None");
            return NULL;
        }
        PyObject *ksid = PyDict_GetItemWithError(ksids, PyTuple_GET_ITEM(k, 0));
        if (ksid == NULL) {
            if (PyErr_Occurred()) return NULL;
            Py_RETURN_NONE; /* an unknown keyspace: the caller raises KeyspaceError */
        }
        Py_ssize_t klen = PyBytes_GET_SIZE(PyTuple_GET_ITEM(k, 1));
        Py_ssize_t vlen = v == Py_None ? 0 : PyBytes_GET_SIZE(v);
        total += OP_HEADER + klen + (v == Py_None ? 0 : VALUE_LEN + vlen);
        user += klen + vlen;
        if (total > MAX_BODY) {
            PyErr_SetString(PyExc_OverflowError, "batch too large for one WAL record");
            return NULL;
        }
    }
    PyObject *ops = PyList_New(n);
    if (!ops) return NULL;
    PyObject *body = PyBytes_FromStringAndSize(NULL, total);
    if (!body) {
        Py_DECREF(ops);
        return NULL;
    }
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(body);
    /* pass 2: the body and the (kind, keyspace id, key, value) tuples, in batch order */
    pos = 0;
    Py_ssize_t i = 0;
    while (PyDict_Next(batch, &pos, &k, &v)) {
        PyObject *key = PyTuple_GET_ITEM(k, 1);
        PyObject *ksid = PyDict_GetItemWithError(ksids, PyTuple_GET_ITEM(k, 0));
        unsigned long id = ksid ? PyLong_AsUnsignedLong(ksid) : (unsigned long)-1;
        if (ksid == NULL || (id == (unsigned long)-1 && PyErr_Occurred()) || id > 0xFFFFFFFFu) {
            if (ksid == NULL && !PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "keyspace ids changed during encode_batch");
            else if (!PyErr_Occurred())
                PyErr_SetString(PyExc_OverflowError, "keyspace id does not fit a u32");
            Py_DECREF(ops);
            Py_DECREF(body);
            return NULL;
        }
        int kind = v == Py_None ? KIND_TOMBSTONE : KIND_VALUE;
        Py_ssize_t klen = PyBytes_GET_SIZE(key);
        p[0] = (uint8_t)kind;
        put_u32(p + 1, (uint32_t)id);
        put_u32(p + 5, (uint32_t)klen);
        memcpy(p + OP_HEADER, PyBytes_AS_STRING(key), (size_t)klen);
        p += OP_HEADER + klen;
        if (kind == KIND_VALUE) {
            Py_ssize_t vlen = PyBytes_GET_SIZE(v);
            put_u32(p, (uint32_t)vlen);
            memcpy(p + VALUE_LEN, PyBytes_AS_STRING(v), (size_t)vlen);
            p += VALUE_LEN + vlen;
        }
        PyObject *op = PyTuple_Pack(4, kind_objs[kind], ksid, key, v);
        if (!op) {
            Py_DECREF(ops);
            Py_DECREF(body);
            return NULL;
        }
        PyList_SET_ITEM(ops, i++, op);
    }
    if (i != n || p != (uint8_t *)PyBytes_AS_STRING(body) + total) {
        PyErr_SetString(PyExc_RuntimeError, "batch changed during encode_batch");
        Py_DECREF(ops);
        Py_DECREF(body);
        return NULL;
    }
    PyObject *userobj = PyLong_FromSsize_t(user);
    if (!userobj) {
        Py_DECREF(ops);
        Py_DECREF(body);
        return NULL;
    }
    PyObject *out = PyTuple_New(3);
    if (!out) {
        Py_DECREF(ops);
        Py_DECREF(body);
        Py_DECREF(userobj);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, ops);
    PyTuple_SET_ITEM(out, 1, body);
    PyTuple_SET_ITEM(out, 2, userobj);
    return out;
}

/* apply_ops(generation, seqno, ops) -> bytes added (for the flush trigger) */
static PyObject *py_apply_ops(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !(PyList_CheckExact(args[2]) || PyTuple_CheckExact(args[2]))) {
        PyErr_SetString(PyExc_TypeError, "apply_ops(generation, seqno, ops: list or tuple)");
        return NULL;
    }
    PyObject *generation = args[0], *ops = args[2];
    unsigned long long seqno = PyLong_AsUnsignedLongLong(args[1]);
    if (seqno == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (seqno >> 56) {
        PyErr_SetString(PyExc_OverflowError, "seqno does not fit 56 bits");
        return NULL;
    }
    PyObject *tables = PyObject_GetAttr(generation, s_tables);
    if (!tables) return NULL;
    if (!PyDict_CheckExact(tables)) {
        Py_DECREF(tables);
        PyErr_SetString(PyExc_TypeError, "generation.tables must be a dict");
        return NULL;
    }
    Py_ssize_t size = 0;
    PyObject *result = NULL;
    PyObject *shared_value = NULL, *shared_entry = NULL; /* the last put's value and entry */
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(ops); i++) {
        PyObject *op = PySequence_Fast_GET_ITEM(ops, i);
        if (!PyTuple_CheckExact(op) || PyTuple_GET_SIZE(op) != 4 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(op, 2))) {
            PyErr_SetString(PyExc_TypeError, "an op is (kind, keyspace id, key, value)");
            goto done;
        }
        PyObject *ksid = PyTuple_GET_ITEM(op, 1), *key = PyTuple_GET_ITEM(op, 2);
        PyObject *value = PyTuple_GET_ITEM(op, 3);
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(op, 0));
        if (kind == -1 && PyErr_Occurred()) goto done;
        if (kind != KIND_VALUE && kind != KIND_TOMBSTONE) {
            PyErr_SetString(PyExc_ValueError, "unknown op kind");
            goto done;
        }
        if (kind == KIND_VALUE && !PyBytes_CheckExact(value)) {
            PyErr_SetString(PyExc_TypeError, "a put's value must be bytes");
            goto done;
        }
        PyObject *table = PyDict_GetItemWithError(tables, ksid); /* borrowed */
        if (table) {
            Py_INCREF(table);
        } else {
            if (PyErr_Occurred()) goto done;
            table = PyObject_CallMethodOneArg(generation, s_table, ksid);
            if (!table) goto done;
        }
        PyObject *data = PyObject_GetAttr(table, s_data);
        if (!data || !PyDict_CheckExact(data)) {
            if (data) PyErr_SetString(PyExc_TypeError, "memtable.data must be a dict");
            Py_XDECREF(data);
            Py_DECREF(table);
            goto done;
        }
        int rc;
        PyObject *old = PyDict_GetItemWithError(data, key); /* borrowed */
        if (old) {
            rc = keep_older(table, key, old);
        } else if (PyErr_Occurred()) {
            rc = -1;
        } else {
            PyObject *fresh = PyObject_GetAttr(table, s_new);
            rc = fresh ? PyDict_SetItem(fresh, key, Py_None) : -1;
            Py_XDECREF(fresh);
        }
        if (rc == 0) {
            Py_ssize_t klen = PyBytes_GET_SIZE(key);
            Py_ssize_t vlen = kind == KIND_VALUE ? PyBytes_GET_SIZE(value) : 0;
            PyObject *entry;
            if (kind == KIND_VALUE && value == shared_value) {
                /* The same value object again in this batch (an ALL-projection index entry
                 * is the base value itself): same seqno and kind, so the same entry bytes;
                 * both memtables hold one object. */
                entry = Py_NewRef(shared_entry);
            } else {
                entry = PyBytes_FromStringAndSize(NULL, 8 + vlen);
                if (entry) {
                    uint8_t *e = (uint8_t *)PyBytes_AS_STRING(entry);
                    put_u64(e, ((uint64_t)seqno << 8) | (uint64_t)kind);
                    if (vlen) memcpy(e + 8, PyBytes_AS_STRING(value), (size_t)vlen);
                    if (kind == KIND_VALUE) {
                        shared_value = value; /* borrowed: ops holds it for the whole call */
                        Py_XSETREF(shared_entry, Py_NewRef(entry));
                    }
                }
            }
            if (entry) {
                rc = PyDict_SetItem(data, key, entry);
                Py_DECREF(entry);
                size += klen + vlen + ENTRY_OVERHEAD_BYTES;
            } else {
                rc = -1;
            }
        }
        Py_DECREF(data);
        Py_DECREF(table);
        if (rc < 0) goto done;
    }
    result = PyLong_FromSsize_t(size);
done:
    Py_XDECREF(shared_entry);
    Py_DECREF(tables);
    return result;
}

static PyMethodDef batch_methods[] = {
    {"encode_batch", (PyCFunction)(void (*)(void))py_encode_batch, METH_FASTCALL,
     "encode_batch(ops, ksids) -> (ops list, body, user bytes) | None"},
    {"apply_ops", (PyCFunction)(void (*)(void))py_apply_ops, METH_FASTCALL,
     "apply_ops(generation, seqno, ops) -> bytes added"},
};

void *shale_batch_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *out = NULL;
    s_tables = PyUnicode_InternFromString("tables");
    s_table = PyUnicode_InternFromString("table");
    s_data = PyUnicode_InternFromString("data");
    s_new = PyUnicode_InternFromString("_new");
    s_older = PyUnicode_InternFromString("older");
    kind_objs[0] = PyLong_FromLong(KIND_TOMBSTONE);
    kind_objs[1] = PyLong_FromLong(KIND_VALUE);
    if (s_tables && s_table && s_data && s_new && s_older && kind_objs[0] && kind_objs[1]) {
        out = shale_function_tuple(batch_methods,
                                   (int)(sizeof batch_methods / sizeof batch_methods[0]));
    }
    PyGILState_Release(g);
    return out;
}
