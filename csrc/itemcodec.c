/* The model layer's hot paths: item codec, table base value, validation, size; see itemcodec.h.
 *
 * These functions build and read the Python objects of an item directly with the CPython API
 * (cffi cannot), and are exposed as real CPython functions fetched once through
 * shale_item_functions(), so calls bypass cffi and hold the GIL throughout.
 *
 * Validation and sizing take a fast path for the common shapes only: a value this file is not
 * sure about is handed to the pure-Python specification (engine/model/values.py validate_value,
 * engine/model/size.py), set by configure() at import. So every error, message and corner case
 * is the Python one by construction; C only makes the common case cheap. Property tests in
 * tests/model compare every entry point with its twin. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "itemcodec.h"
#include "pyfuncs.h"

/* Presized dicts save the resizes of a 10+ attribute item; CPython 3.13 made the function
 * internal, so there a plain dict is built. */
#if PY_VERSION_HEX < 0x030D0000
#define new_dict_sized(n) _PyDict_NewPresized(n)
#else
#define new_dict_sized(n) PyDict_New()
#endif

enum { T_S = 1, T_N, T_B, T_FALSE, T_TRUE, T_NULL, T_SS, T_NS, T_BS, T_L, T_M };
#define ITEM_FORMAT 1
#define MAX_DEPTH 64
#define MAX_SIGNIFICANT_DIGITS 38

static PyObject *k_tag[12];         /* interned "S", "N", ... indexed by T_* */
static PyObject *k_prefix;          /* "item codec: ", which every decoding error starts with */
static PyObject *err_class;         /* engine.errors.InternalServerError */
static PyObject *py_validate_value; /* engine.model.values.validate_value */
static PyObject *py_validate_item;  /* engine.model.values.validate_item_py */
static PyObject *py_item_size;      /* engine.model.size.item_size_py */

/* --- small helpers ------------------------------------------------------------------------- */

/* Slow paths call the Python twins, which engine/model hands over at import. */
static int ready(void) {
    if (py_validate_value && py_validate_item && py_item_size) return 1;
    PyErr_SetString(PyExc_RuntimeError, "engine.model has not configured its native half");
    return 0;
}

static inline int is_ascii(const uint8_t *s, Py_ssize_t n) {
    uint64_t acc = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= s[i];
    return !(acc & 0x8080808080808080ULL);
}

/* UTF-8 length of a str, lone surrogates counted as "surrogatepass" writes them (3 bytes). */
static Py_ssize_t utf8_len(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_ASCII(s)) return n;
    Py_ssize_t total = n;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        total += (c >= 0x80) + (c >= 0x800) + (c >= 0x10000);
    }
    return total;
}

/* engine/model/size.py number_size on ASCII text; -1 if the text is not ASCII. */
static Py_ssize_t number_size(PyObject *s) {
    if (!PyUnicode_IS_ASCII(s)) return -1;
    const char *t = (const char *)PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int negative = n > 0 && t[0] == '-';
    Py_ssize_t i = 0;
    while (i < n && t[i] == '-') i++;
    /* digits = rest without '.', stripped of '0' at both ends */
    Py_ssize_t first = -1, last = -1, kept = 0;
    for (; i < n; i++) {
        if (t[i] == '.') continue;
        if (t[i] != '0') {
            if (first < 0) first = kept;
            last = kept;
        }
        kept++;
    }
    Py_ssize_t digits = first < 0 ? 0 : last - first + 1;
    return (digits + 1) / 2 + 1 + negative;
}

/* True if `s` is certainly DynamoDB's canonical text of a number in range, i.e. what
 * normalize_number returns unchanged: -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])? with at most 38 digits,
 * not "-0". Anything else (exponents, leading zeros, more digits) goes to Python. */
static int is_canonical_number(PyObject *s) {
    if (!PyUnicode_IS_ASCII(s)) return 0;
    const char *t = (const char *)PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0, digits = 0;
    int neg = 0;
    if (n && t[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n) return 0;
    if (t[i] == '0') {
        i++;
        digits++;
        if (i == n) return !neg;
        if (t[i] != '.') return 0;
    } else if (t[i] >= '1' && t[i] <= '9') {
        while (i < n && t[i] >= '0' && t[i] <= '9') {
            i++;
            digits++;
        }
        if (i == n) return digits <= MAX_SIGNIFICANT_DIGITS;
        if (t[i] != '.') return 0;
    } else {
        return 0;
    }
    i++; /* the '.' */
    Py_ssize_t start = i;
    while (i < n && t[i] >= '0' && t[i] <= '9') i++;
    if (i != n || i == start || t[n - 1] == '0') return 0;
    return digits + (n - start) <= MAX_SIGNIFICANT_DIGITS;
}

/* The tag of a one-key value dict by identity with the interned tags (the keys of every value
 * built by a parser or by this file), 0 if not one of them. */
static inline int tag_of(PyObject *k, PyObject *v) {
    for (int t = T_S; t <= T_M; t++) {
        if (k == k_tag[t]) {
            if (t == T_FALSE || t == T_TRUE) return v == Py_True ? T_TRUE : T_FALSE;
            return t;
        }
    }
    return 0;
}

/* tag_of, falling back to the text for tags that are equal but not the interned object (a
 * JSON parser's keys need not be: json.loads makes its own "S"). */
static int tag_of_slow(PyObject *k, PyObject *v) {
    int t = tag_of(k, v);
    if (t || !PyUnicode_CheckExact(k) || !PyUnicode_IS_ASCII(k)) return t;
    const char *s = (const char *)PyUnicode_1BYTE_DATA(k);
    switch (PyUnicode_GET_LENGTH(k)) {
        case 1:
            switch (s[0]) {
                case 'S': return T_S;
                case 'N': return T_N;
                case 'B': return T_B;
                case 'L': return T_L;
                case 'M': return T_M;
                default: return 0;
            }
        case 2:
            if (s[1] != 'S') return 0;
            return s[0] == 'S' ? T_SS : s[0] == 'N' ? T_NS : s[0] == 'B' ? T_BS : 0;
        case 4:
            if (memcmp(s, "BOOL", 4) == 0) return v == Py_True ? T_TRUE : T_FALSE;
            return memcmp(s, "NULL", 4) == 0 ? T_NULL : 0;
        default:
            return 0;
    }
}

/* --- sizes ----------------------------------------------------------------------------------- */

/* DynamoDB size of a normalised value, or -1 if its shape is not one this fast path knows
 * (the caller then asks Python). No Python error is set on -1. */
static Py_ssize_t value_size(PyObject *value, int depth) {
    if (depth > MAX_DEPTH || !PyDict_CheckExact(value) || PyDict_GET_SIZE(value) != 1) return -1;
    Py_ssize_t pos = 0, total = 0, sz;
    PyObject *k, *v;
    PyDict_Next(value, &pos, &k, &v);
    int tag = tag_of_slow(k, v);
    switch (tag) {
        case T_S:
            return PyUnicode_CheckExact(v) ? utf8_len(v) : -1;
        case T_N:
            return PyUnicode_CheckExact(v) ? number_size(v) : -1;
        case T_B:
            return PyBytes_CheckExact(v) ? PyBytes_GET_SIZE(v) : -1;
        case T_TRUE: case T_FALSE: case T_NULL:
            return 1;
        case T_SS: case T_NS: case T_BS: {
            if (!PyList_CheckExact(v)) return -1;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
                PyObject *m = PyList_GET_ITEM(v, i);
                if (tag == T_BS) {
                    if (!PyBytes_CheckExact(m)) return -1;
                    total += PyBytes_GET_SIZE(m);
                } else {
                    if (!PyUnicode_CheckExact(m)) return -1;
                    sz = tag == T_SS ? utf8_len(m) : number_size(m);
                    if (sz < 0) return -1;
                    total += sz;
                }
            }
            return total;
        }
        case T_L:
            if (!PyList_CheckExact(v)) return -1;
            total = 3;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
                sz = value_size(PyList_GET_ITEM(v, i), depth + 1);
                if (sz < 0) return -1;
                total += sz + 1;
            }
            return total;
        case T_M: {
            if (!PyDict_CheckExact(v)) return -1;
            total = 3;
            Py_ssize_t p2 = 0;
            PyObject *name, *e;
            while (PyDict_Next(v, &p2, &name, &e)) {
                if (!PyUnicode_CheckExact(name)) return -1;
                sz = value_size(e, depth + 1);
                if (sz < 0) return -1;
                total += utf8_len(name) + sz + 1;
            }
            return total;
        }
        default:
            return -1;
    }
}

/* Size of a whole item, or -1 (no error set) if it is not a plain normalised item. */
static Py_ssize_t fast_item_size(PyObject *item) {
    if (!PyDict_CheckExact(item)) return -1;
    Py_ssize_t pos = 0, total = 0;
    PyObject *name, *v;
    while (PyDict_Next(item, &pos, &name, &v)) {
        if (!PyUnicode_CheckExact(name)) return -1;
        Py_ssize_t sz = value_size(v, 0);
        if (sz < 0) return -1;
        total += utf8_len(name) + sz;
    }
    return total;
}

static PyObject *py_item_size_fn(PyObject *self, PyObject *item) {
    (void)self;
    Py_ssize_t size = fast_item_size(item);
    if (size >= 0) return PyLong_FromSsize_t(size);
    return ready() ? PyObject_CallOneArg(py_item_size, item) : NULL;
}

/* --- validation ------------------------------------------------------------------------------ */

/* The validated, normalised item (new dict), and its size in *size_out when not NULL.
 * Values of the common shapes are checked here and shared with the input, as the Python
 * validate_item does for strings; every other value goes through Python's validate_value, so
 * errors are exactly Python's, raised in attribute order. */
static PyObject *validate(PyObject *item, Py_ssize_t *size_out) {
    if (!ready()) return NULL;
    if (!PyDict_CheckExact(item)) return PyObject_CallOneArg(py_validate_item, item);
    PyObject *out = new_dict_sized(PyDict_GET_SIZE(item));
    if (!out) return NULL;
    Py_ssize_t pos = 0, size = 0;
    PyObject *name, *value;
    while (PyDict_Next(item, &pos, &name, &value)) {
        if (!PyUnicode_CheckExact(name)) {
            /* Python raises the error at this attribute: every earlier one was valid. */
            Py_DECREF(out);
            return PyObject_CallOneArg(py_validate_item, item);
        }
        PyObject *kept = NULL;
        Py_ssize_t vsize = -1;
        if (PyDict_CheckExact(value) && PyDict_GET_SIZE(value) == 1) {
            Py_ssize_t p2 = 0;
            PyObject *k, *v;
            PyDict_Next(value, &p2, &k, &v);
            switch (tag_of_slow(k, v)) {
                case T_S:
                    if (PyUnicode_CheckExact(v)) vsize = utf8_len(v);
                    break;
                case T_N:
                    if (PyUnicode_CheckExact(v) && is_canonical_number(v)) vsize = number_size(v);
                    break;
                case T_B:
                    if (PyBytes_CheckExact(v)) vsize = PyBytes_GET_SIZE(v);
                    break;
                case T_TRUE: case T_FALSE:
                    if (PyBool_Check(v)) vsize = 1;
                    break;
                case T_NULL:
                    if (v == Py_True) vsize = 1;
                    break;
                default:
                    break;
            }
            if (vsize >= 0) kept = Py_NewRef(value);
        }
        if (!kept) {
            kept = PyObject_CallOneArg(py_validate_value, value);
            if (!kept) {
                Py_DECREF(out);
                return NULL;
            }
            if (size_out) {
                vsize = value_size(kept, 0);
                if (vsize < 0) {
                    PyObject *one = Py_BuildValue("{OO}", name, kept);
                    PyObject *r = one ? PyObject_CallOneArg(py_item_size, one) : NULL;
                    Py_XDECREF(one);
                    vsize = r ? PyLong_AsSsize_t(r) - utf8_len(name) : -1;
                    Py_XDECREF(r);
                    if (PyErr_Occurred()) {
                        Py_DECREF(kept);
                        Py_DECREF(out);
                        return NULL;
                    }
                }
            }
        }
        size += utf8_len(name) + vsize;
        int rc = PyDict_SetItem(out, name, kept);
        Py_DECREF(kept);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (size_out) *size_out = size;
    return out;
}

static PyObject *py_validate_item_fn(PyObject *self, PyObject *item) {
    (void)self;
    return validate(item, NULL);
}

static PyObject *py_validate_sized_item(PyObject *self, PyObject *item) {
    (void)self;
    Py_ssize_t size = -1;
    PyObject *out = validate(item, &size);
    if (!out) return NULL;
    if (size < 0) { /* validated by Python as a whole: size it like any item */
        PyObject *r = py_item_size_fn(NULL, out);
        if (!r) {
            Py_DECREF(out);
            return NULL;
        }
        return Py_BuildValue("(NN)", out, r);
    }
    return Py_BuildValue("(Nn)", out, size);
}

/* --- decoding -------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} reader;

static int truncated(void) {
    PyErr_SetString(PyExc_ValueError, "item codec: truncated");
    return -1;
}

static inline int rd_len(reader *r, Py_ssize_t *out) {
    if (r->p < r->end && !(*r->p & 0x80)) { /* one byte: lengths below 128, the usual case */
        *out = *r->p++;
        return 0;
    }
    uint64_t v = 0;
    int shift = 0;
    while (r->p < r->end && shift < 64) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (v > (uint64_t)(r->end - r->p) && v > 0x7FFFFFFF) break;
            *out = (Py_ssize_t)v;
            return 0;
        }
        shift += 7;
    }
    PyErr_SetString(PyExc_ValueError, "item codec: bad length");
    return -1;
}

/* A str from UTF-8 bytes: ASCII (the common case) is copied straight into a new compact str. */
static PyObject *make_str(const char *s, Py_ssize_t n) {
    if (!is_ascii((const uint8_t *)s, n)) return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
    PyObject *u = PyUnicode_New(n, 127);
    if (u) memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    return u;
}

/* Attribute names repeat from item to item: a direct-mapped cache of short ASCII names avoids
 * allocating them again (the GIL protects it). */
#define NAME_CACHE_SIZE 2048
#define NAME_CACHE_MAX_LEN 64
static PyObject *name_cache[NAME_CACHE_SIZE];

static PyObject *make_name(const char *s, Py_ssize_t n) {
    if (n > NAME_CACHE_MAX_LEN) return make_str(s, n);
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    PyObject **slot = &name_cache[h & (NAME_CACHE_SIZE - 1)];
    PyObject *c = *slot;
    if (c && PyUnicode_GET_LENGTH(c) == n && memcmp(PyUnicode_1BYTE_DATA(c), s, (size_t)n) == 0)
        return Py_NewRef(c);
    PyObject *u = make_str(s, n);
    if (u && PyUnicode_IS_COMPACT_ASCII(u)) {
        /* Hash it once here, so dict insertions of the cached name never hash it again. */
        if (PyObject_Hash(u) == -1) {
            Py_DECREF(u);
            return NULL;
        }
        Py_XSETREF(*slot, Py_NewRef(u));
    }
    return u;
}

/* kind: 0 str, 1 bytes, 2 attribute name. */
static PyObject *rd_str(reader *r, int kind) {
    Py_ssize_t n;
    if (rd_len(r, &n) < 0) return NULL;
    if (n > r->end - r->p) {
        truncated();
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    if (kind == 1) return PyBytes_FromStringAndSize(s, n);
    if (kind == 2) return make_name(s, n);
    return make_str(s, n);
}

static PyObject *dec_value(reader *r, int depth);

static PyObject *dec_map(reader *r, int depth) {
    Py_ssize_t n;
    if (rd_len(r, &n) < 0) return NULL;
    /* Each entry takes at least 2 bytes: a larger count is garbage, not a reason to allocate. */
    if (n > (r->end - r->p) / 2 + 1) {
        truncated();
        return NULL;
    }
    PyObject *d = n > 5 ? new_dict_sized(n) : PyDict_New();
    if (!d) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = rd_str(r, 2);
        if (!k) goto fail;
        PyObject *v = dec_value(r, depth + 1);
        if (!v) {
            Py_DECREF(k);
            goto fail;
        }
        int rc = PyDict_SetItem(d, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0) goto fail;
    }
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *dec_list(reader *r, int depth, int kind) {
    Py_ssize_t n;
    if (rd_len(r, &n) < 0) return NULL;
    if (n > r->end - r->p) {
        truncated();
        return NULL;
    }
    PyObject *l = PyList_New(n);
    if (!l) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = kind == T_L ? dec_value(r, depth + 1) : rd_str(r, kind == T_BS);
        if (!v) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
}

static PyObject *dec_value(reader *r, int depth) {
    if (depth > MAX_DEPTH || r->p >= r->end) {
        PyErr_SetString(PyExc_ValueError, "item codec: truncated or too deep");
        return NULL;
    }
    int tag = *r->p++;
    PyObject *payload;
    switch (tag) {
        case T_S: case T_N: payload = rd_str(r, 0); break;
        case T_B: payload = rd_str(r, 1); break;
        case T_FALSE: payload = Py_NewRef(Py_False); break;
        case T_TRUE: case T_NULL: payload = Py_NewRef(Py_True); break;
        case T_SS: case T_NS: case T_BS: case T_L: payload = dec_list(r, depth, tag); break;
        case T_M: payload = dec_map(r, depth); break;
        default:
            PyErr_Format(PyExc_ValueError, "item codec: bad tag %d", tag);
            return NULL;
    }
    if (!payload) return NULL;
    PyObject *d = PyDict_New();
    if (!d || PyDict_SetItem(d, k_tag[tag], payload) < 0) {
        Py_XDECREF(d);
        Py_DECREF(payload);
        return NULL;
    }
    Py_DECREF(payload);
    return d;
}

/* Decode the item at data[pos:], which must end exactly at the end of data. ValueErrors
 * (malformed bytes, bad UTF-8) become InternalServerError("item codec: ..."). */
static PyObject *decode_at(const uint8_t *buf, Py_ssize_t len, Py_ssize_t pos) {
    PyObject *out = NULL;
    if (pos < 0 || pos >= len || buf[pos] != ITEM_FORMAT) {
        PyErr_SetString(PyExc_ValueError, "item codec: not a format-1 item");
    } else {
        reader r = {buf + pos + 1, buf + len};
        out = dec_map(&r, 0);
        if (out && r.p != r.end) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_ValueError, "item codec: trailing bytes");
        }
    }
    if (!out && err_class && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyObject *text = value ? PyObject_Str(value) : NULL;
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        if (text && PyUnicode_Tailmatch(text, k_prefix, 0, PY_SSIZE_T_MAX, -1) != 1)
            Py_SETREF(text, PyUnicode_Concat(k_prefix, text)); /* bad UTF-8, say */
        if (text) {
            PyErr_SetObject(err_class, text);
            Py_DECREF(text);
        }
    }
    return out;
}

static PyObject *decode_buffer(PyObject *data, Py_ssize_t pos) {
    if (PyBytes_CheckExact(data))
        return decode_at((const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), pos);
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = decode_at(view.buf, view.len, pos);
    PyBuffer_Release(&view);
    return out;
}

static PyObject *py_decode_item(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 1 && nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode_item(data[, pos])");
        return NULL;
    }
    Py_ssize_t pos = 0;
    if (nargs == 2) {
        pos = PyLong_AsSsize_t(args[1]);
        if (pos == -1 && PyErr_Occurred()) return NULL;
    }
    return decode_buffer(args[0], pos);
}

/* (item, size) of a table base value: size u32 LE | item. */
static PyObject *py_decode_value(PyObject *self, PyObject *data) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = NULL;
    if (view.len < 4) {
        PyErr_SetString(err_class ? err_class : PyExc_ValueError, "item codec: truncated");
    } else {
        const uint8_t *b = view.buf;
        uint32_t size = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                        (uint32_t)b[3] << 24;
        PyObject *item = decode_at(b, view.len, 4);
        if (item) out = Py_BuildValue("(Nk)", item, (unsigned long)size);
    }
    PyBuffer_Release(&view);
    return out;
}

/* decode_page(rows, limit, max_bytes, accept, keep_items)
 *     -> (items, count, scanned, size, last_key, last_value)
 * One page of a table read: for each (key, base value) of the iterator `rows`, decode the item,
 * count it as scanned and add its stored size; keep it if `accept` (None or a callable) says
 * so; stop after `limit` (None: no limit) scanned items or once the sizes reach `max_bytes`,
 * and then return the key and value of the last row read (None, None if the rows ran out).
 * The loop of engine/table/read.py read_page without key checks or fetches, in C. */
static PyObject *py_decode_page(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "decode_page(rows, limit, max_bytes, accept, keep_items)");
        return NULL;
    }
    Py_ssize_t limit = -1;
    if (args[1] != Py_None) {
        limit = PyLong_AsSsize_t(args[1]);
        if (limit == -1 && PyErr_Occurred()) return NULL;
    }
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[2]);
    if (max_bytes == -1 && PyErr_Occurred()) return NULL;
    PyObject *accept = args[3] == Py_None ? NULL : args[3];
    int keep = PyObject_IsTrue(args[4]);
    if (keep < 0) return NULL;
    PyObject *it = PyObject_GetIter(args[0]);
    if (!it) return NULL;
    PyObject *items = PyList_New(0);
    PyObject *row = NULL, *last_key = Py_None, *last_value = Py_None;
    Py_ssize_t count = 0, scanned = 0, size = 0;
    if (!items) goto fail;
    while ((row = PyIter_Next(it)) != NULL) {
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(row, 1))) {
            PyErr_SetString(PyExc_TypeError, "decode_page: rows are (key, bytes) pairs");
            goto fail;
        }
        PyObject *data = PyTuple_GET_ITEM(row, 1);
        const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(data);
        Py_ssize_t len = PyBytes_GET_SIZE(data);
        if (len < 4) {
            PyErr_SetString(err_class ? err_class : PyExc_ValueError, "item codec: truncated");
            goto fail;
        }
        PyObject *item = decode_at(b, len, 4);
        if (!item) goto fail;
        scanned++;
        size += (Py_ssize_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                             (uint32_t)b[3] << 24);
        int ok = 1;
        if (accept) {
            PyObject *r = PyObject_CallOneArg(accept, item);
            ok = r ? PyObject_IsTrue(r) : -1;
            Py_XDECREF(r);
            if (ok < 0) {
                Py_DECREF(item);
                goto fail;
            }
        }
        if (ok) {
            count++;
            if (keep && PyList_Append(items, item) < 0) {
                Py_DECREF(item);
                goto fail;
            }
        }
        Py_DECREF(item);
        if (scanned == limit || size >= max_bytes) {
            last_key = PyTuple_GET_ITEM(row, 0);
            last_value = data;
            break;
        }
        Py_CLEAR(row);
    }
    if (PyErr_Occurred()) goto fail;
    PyObject *out = Py_BuildValue("(NnnnOO)", items, count, scanned, size, last_key, last_value);
    Py_XDECREF(row);
    Py_DECREF(it);
    return out;
fail:
    Py_XDECREF(row);
    Py_XDECREF(items);
    Py_DECREF(it);
    return NULL;
}

/* --- encoding -------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint8_t small[2048];
} writer;

static int wr_grow(writer *w, size_t n) {
    size_t cap = w->cap * 2;
    while (cap < w->len + n) cap *= 2;
    uint8_t *nb;
    if (w->buf == w->small) {
        nb = PyMem_Malloc(cap);
        if (nb) memcpy(nb, w->buf, w->len);
    } else {
        nb = PyMem_Realloc(w->buf, cap);
    }
    if (!nb) {
        PyErr_NoMemory();
        return -1;
    }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static inline int wr_reserve(writer *w, size_t n) {
    return w->len + n <= w->cap ? 0 : wr_grow(w, n);
}

static inline int wr_len(writer *w, size_t v) {
    if (wr_reserve(w, 10) < 0) return -1;
    while (v >= 0x80) {
        w->buf[w->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->buf[w->len++] = (uint8_t)v;
    return 0;
}

static inline int wr_bytes(writer *w, const char *s, Py_ssize_t n) {
    if (wr_reserve(w, (size_t)n + 10) < 0) return -1;
    size_t v = (size_t)n;
    while (v >= 0x80) {
        w->buf[w->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->buf[w->len++] = (uint8_t)v;
    memcpy(w->buf + w->len, s, (size_t)n);
    w->len += (size_t)n;
    return 0;
}

static int wr_str(writer *w, PyObject *s) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "item codec: expected str");
        return -1;
    }
    if (PyUnicode_IS_COMPACT_ASCII(s))
        return wr_bytes(w, (const char *)PyUnicode_1BYTE_DATA(s), PyUnicode_GET_LENGTH(s));
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u) return wr_bytes(w, u, n);
    PyErr_Clear(); /* lone surrogates: encode as DynamoDB's JSON would carry them */
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (!b) return -1;
    int rc = wr_bytes(w, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return rc;
}

static int wr_blob(writer *w, PyObject *b) {
    if (!PyBytes_Check(b)) {
        PyErr_SetString(PyExc_TypeError, "item codec: expected bytes");
        return -1;
    }
    return wr_bytes(w, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
}

static inline int wr_tag(writer *w, int tag) {
    if (wr_reserve(w, 1) < 0) return -1;
    w->buf[w->len++] = (uint8_t)tag;
    return 0;
}

static int enc_value(writer *w, PyObject *v, int depth);

static int enc_map(writer *w, PyObject *m, int depth) {
    if (!PyDict_Check(m)) {
        PyErr_SetString(PyExc_TypeError, "item codec: expected dict");
        return -1;
    }
    if (wr_len(w, (size_t)PyDict_GET_SIZE(m)) < 0) return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(m, &pos, &k, &v)) {
        if (wr_str(w, k) < 0 || enc_value(w, v, depth + 1) < 0) return -1;
    }
    return 0;
}

static int enc_list(writer *w, PyObject *l, int depth, int kind) {
    if (!PyList_Check(l)) {
        PyErr_SetString(PyExc_TypeError, "item codec: expected list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(l);
    if (wr_len(w, (size_t)n) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(l, i);
        int rc = kind == T_L    ? enc_value(w, e, depth + 1)
                 : kind == T_BS ? wr_blob(w, e)
                                : wr_str(w, e);
        if (rc < 0) return -1;
    }
    return 0;
}

static int enc_value(writer *w, PyObject *v, int depth) {
    if (depth > MAX_DEPTH || !PyDict_Check(v) || PyDict_GET_SIZE(v) != 1) {
        PyErr_SetString(PyExc_TypeError, "item codec: not an AttributeValue");
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *x;
    PyDict_Next(v, &pos, &k, &x);
    int tag = tag_of_slow(k, x);
    if ((tag == T_TRUE || tag == T_FALSE) && !PyBool_Check(x)) tag = 0;
    if (tag == T_NULL && x != Py_True) tag = 0;
    if (tag <= 0) {
        PyErr_SetString(PyExc_TypeError, "item codec: bad type tag or value");
        return -1;
    }
    if (wr_tag(w, tag) < 0) return -1;
    switch (tag) {
        case T_S: case T_N: return wr_str(w, x);
        case T_B: return wr_blob(w, x);
        case T_SS: case T_NS: case T_BS: case T_L: return enc_list(w, x, depth, tag);
        case T_M: return enc_map(w, x, depth);
        default: return 0;
    }
}

/* The encoding of `item` after `prefix` bytes that the caller fills in place. */
static PyObject *encode(PyObject *item, size_t prefix, uint32_t size) {
    writer w;
    w.buf = w.small;
    w.cap = sizeof w.small;
    for (size_t i = 0; i < prefix; i++) w.buf[i] = (uint8_t)(size >> (8 * i));
    w.len = prefix;
    w.buf[w.len++] = ITEM_FORMAT;
    PyObject *out = NULL;
    if (enc_map(&w, item, 0) == 0)
        out = PyBytes_FromStringAndSize((const char *)w.buf, (Py_ssize_t)w.len);
    if (w.buf != w.small) PyMem_Free(w.buf);
    return out;
}

static PyObject *py_encode_item(PyObject *self, PyObject *item) {
    (void)self;
    return encode(item, 0, 0);
}

static PyObject *py_encode_value(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_value(item, size)");
        return NULL;
    }
    unsigned long size = PyLong_AsUnsignedLong(args[1]);
    if (size == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if (size > 0xFFFFFFFFul) {
        PyErr_SetString(PyExc_OverflowError, "item size does not fit in a u32");
        return NULL;
    }
    return encode(args[0], 4, (uint32_t)size);
}

/* --- set-up ---------------------------------------------------------------------------------- */

static PyObject *py_configure(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "configure(error_class, validate_value, validate_item, item_size)");
        return NULL;
    }
    Py_XSETREF(err_class, Py_NewRef(args[0]));
    Py_XSETREF(py_validate_value, Py_NewRef(args[1]));
    Py_XSETREF(py_validate_item, Py_NewRef(args[2]));
    Py_XSETREF(py_item_size, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL

static PyMethodDef item_methods[] = {
    {"configure", FASTCALL(py_configure), "Set the Python twins used for slow paths."},
    {"encode_item", py_encode_item, METH_O, "Encode a normalised item (format 1)."},
    {"decode_item", FASTCALL(py_decode_item), "decode_item(data[, pos]) -> item"},
    {"encode_value", FASTCALL(py_encode_value), "encode_value(item, size) -> base value"},
    {"decode_value", py_decode_value, METH_O, "decode_value(base value) -> (item, size)"},
    {"validate_item", py_validate_item_fn, METH_O, "Validate and normalise an item."},
    {"item_size", py_item_size_fn, METH_O, "DynamoDB size of a normalised item."},
    {"validate_sized_item", py_validate_sized_item, METH_O, "-> (normalised item, size)"},
    {"decode_page", FASTCALL(py_decode_page), "a page of table base values; see above"},
};

void *shale_item_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    static const char *names[12] = {"", "S", "N", "B", "BOOL", "BOOL", "NULL",
                                    "SS", "NS", "BS", "L", "M"};
    PyObject *out = NULL;
    if (!k_prefix) k_prefix = PyUnicode_InternFromString("item codec: ");
    if (!k_prefix) goto done;
    for (int i = 1; i < 12; i++) {
        if (!k_tag[i]) k_tag[i] = PyUnicode_InternFromString(names[i]);
        if (!k_tag[i]) goto done;
    }
    out = shale_function_tuple(item_methods, (int)(sizeof item_methods / sizeof item_methods[0]));
done:
    PyGILState_Release(g);
    return out;
}
