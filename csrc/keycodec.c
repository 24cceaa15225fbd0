/* Order-preserving key encoding and the item codec; see keycodec.h. Specifications: the
 * pure-Python twins engine/codec/keys.py (keys) and engine/model/itemcodec.py (items). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "keycodec.h"

#define N_NEG 1
#define N_ZERO 2
#define N_POS 3
#define EXP_BIAS 129

size_t shale_key_encode_bytes(const uint8_t *src, size_t n, uint8_t *out) {
    size_t o = 0;
    const uint8_t *end = src + n;
    while (src < end) {
        const uint8_t *z = memchr(src, 0, (size_t)(end - src));
        size_t run = z ? (size_t)(z - src) : (size_t)(end - src);
        memcpy(out + o, src, run);
        o += run;
        src += run;
        if (z) {
            out[o++] = 0x00;
            out[o++] = 0xFF;
            src++;
        }
    }
    out[o++] = 0x00;
    out[o++] = 0x01;
    return o;
}

int shale_key_encode_number(const char *text, size_t n, uint8_t *out) {
    size_t i = 0;
    int negative = 0;
    if (n == 0) return -1;
    if (text[0] == '-') {
        negative = 1;
        i = 1;
    }
    /* Collect significant digits and the exponent E (value = 0.d1d2... x 10^E). */
    char digits[40];
    int nd = 0, exp = 0, seen_point = 0, leading = 1, pending_zeros = 0;
    for (; i < n; i++) {
        char c = text[i];
        if (c == '.') {
            if (seen_point) return -1;
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9') return -1;
        if (leading && c == '0') {
            if (seen_point) exp--;
            continue;
        }
        leading = 0;
        if (!seen_point) exp++;
        if (c == '0') {
            pending_zeros++;
            continue;
        }
        if (nd + pending_zeros + 1 > 38) return -1;
        while (pending_zeros) {
            digits[nd++] = '0';
            pending_zeros--;
        }
        digits[nd++] = c;
    }
    if (nd == 0) {
        out[0] = N_ZERO;
        return 1;
    }
    if (exp < -EXP_BIAS || exp > 255 - EXP_BIAS) return -1;
    size_t o = 0;
    out[o++] = N_POS;
    out[o++] = (uint8_t)(exp + EXP_BIAS);
    int k = 0;
    for (; k + 1 < nd; k += 2)
        out[o++] = (uint8_t)(((digits[k] - '0' + 1) << 4) | (digits[k + 1] - '0' + 1));
    out[o++] = (k < nd) ? (uint8_t)((digits[k] - '0' + 1) << 4) : 0x00;
    if (negative) {
        out[0] = N_NEG;
        for (size_t j = 1; j < o; j++) out[j] = (uint8_t)~out[j];
    }
    return (int)o;
}

int64_t shale_key_decode_bytes(const uint8_t *src, size_t n, uint8_t *out, size_t *out_len) {
    size_t i = 0, o = 0;
    while (i < n) {
        const uint8_t *z = memchr(src + i, 0, n - i);
        if (!z || (size_t)(z - src) + 1 >= n) return -1;
        size_t run = (size_t)(z - (src + i));
        memcpy(out + o, src + i, run);
        o += run;
        i += run;
        if (src[i + 1] == 0x01) {
            *out_len = o;
            return (int64_t)(i + 2);
        }
        if (src[i + 1] != 0xFF) return -1;
        out[o++] = 0x00;
        i += 2;
    }
    return -1;
}

int64_t shale_key_decode_number(const uint8_t *src, size_t n, char *out, size_t *out_len) {
    if (n < 1) return -1;
    if (src[0] == N_ZERO) {
        out[0] = '0';
        *out_len = 1;
        return 1;
    }
    if (src[0] != N_POS && src[0] != N_NEG) return -1;
    uint8_t flip = src[0] == N_NEG ? 0xFF : 0x00;
    if (n < 3) return -1;
    int exp = (int)(uint8_t)(src[1] ^ flip) - EXP_BIAS;
    char digits[40];
    int nd = 0;
    size_t i = 2;
    for (;; i++) {
        if (i >= n || nd > 38) return -1;
        uint8_t b = src[i] ^ flip;
        uint8_t hi = b >> 4, lo = b & 0x0F;
        if (hi == 0) break;
        if (hi > 10) return -1;
        digits[nd++] = (char)('0' + hi - 1);
        if (lo == 0) break;
        if (lo > 10) return -1;
        digits[nd++] = (char)('0' + lo - 1);
    }
    i++;
    if (nd == 0) return -1;
    size_t o = 0;
    if (flip) out[o++] = '-';
    if (exp >= nd) {
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
        for (int z = nd; z < exp; z++) out[o++] = '0';
    } else if (exp <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -exp; z++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
    } else {
        memcpy(out + o, digits, (size_t)exp);
        o += (size_t)exp;
        out[o++] = '.';
        memcpy(out + o, digits + exp, (size_t)(nd - exp));
        o += (size_t)(nd - exp);
    }
    *out_len = o;
    return (int64_t)i;
}

/* zlib's CRC-32 (reflected polynomial 0xEDB88320), four bits at a time. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
    0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
    0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t shale_key_hash(const uint8_t *src, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= src[i];
        c = (c >> 4) ^ crc_nibble[c & 0x0F];
        c = (c >> 4) ^ crc_nibble[c & 0x0F];
    }
    uint32_t h = c ^ 0xFFFFFFFFu;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static int64_t encode_one(int tag, const uint8_t *v, size_t n, uint8_t *out) {
    if (tag == 'S' || tag == 'B') return (int64_t)shale_key_encode_bytes(v, n, out);
    if (tag == 'N') return shale_key_encode_number((const char *)v, n, out);
    return -1;
}

int64_t shale_key_encode_primary(int pk_tag, const uint8_t *pk, size_t pkn, int sk_tag,
                                 const uint8_t *sk, size_t skn, uint8_t *out) {
    int64_t a = encode_one(pk_tag, pk, pkn, out + 4);
    if (a < 0) return -1;
    uint32_t h = shale_key_hash(out + 4, (size_t)a);
    out[0] = (uint8_t)(h >> 24);
    out[1] = (uint8_t)(h >> 16);
    out[2] = (uint8_t)(h >> 8);
    out[3] = (uint8_t)h;
    if (sk_tag == 0) return 4 + a;
    int64_t b = encode_one(sk_tag, sk, skn, out + 4 + a);
    if (b < 0) return -1;
    return 4 + a + b;
}

/* ---------------------------------------------------------------------------------------------
 * The item codec (format 1), specified by engine/model/itemcodec.py (the pure-Python twin).
 * These two functions use the CPython API: they build and read the Python objects of an item
 * directly, which is what makes decoding faster than orjson.loads of the wire JSON. They are
 * exposed as real CPython functions (METH_O / METH_O), fetched once through
 * shale_item_codec_functions(), so calls do not go through cffi and keep the GIL.
 * ------------------------------------------------------------------------------------------- */

enum { T_S = 1, T_N, T_B, T_FALSE, T_TRUE, T_NULL, T_SS, T_NS, T_BS, T_L, T_M };
#define ITEM_FORMAT 1
#define MAX_DEPTH 64

static PyObject *k_tag[12]; /* interned "S", "N", ... indexed by T_* (BOOL for both booleans) */

typedef struct {
    const uint8_t *p, *end;
} reader;

static int rd_len(reader *r, Py_ssize_t *out) {
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
    Py_ssize_t i = 0;
    while (i < n && !((unsigned char)s[i] & 0x80)) i++;
    if (i < n) return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
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
        Py_XSETREF(*slot, Py_NewRef(u));
    }
    return u;
}

/* kind: 0 str, 1 bytes, 2 attribute name. */
static PyObject *rd_str(reader *r, int kind) {
    Py_ssize_t n;
    if (rd_len(r, &n) < 0) return NULL;
    if (n > r->end - r->p) {
        PyErr_SetString(PyExc_ValueError, "item codec: truncated");
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
    PyObject *d = PyDict_New();
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
        PyErr_SetString(PyExc_ValueError, "item codec: truncated");
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

static PyObject *py_decode_item(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    reader r = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len};
    PyObject *out = NULL;
    if (r.p >= r.end || *r.p != ITEM_FORMAT) {
        PyErr_SetString(PyExc_ValueError, "item codec: not a format-1 item");
    } else {
        r.p++;
        out = dec_map(&r, 0);
        if (out && r.p != r.end) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_ValueError, "item codec: trailing bytes");
        }
    }
    PyBuffer_Release(&view);
    return out;
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint8_t small[512];
} writer;

static int wr_reserve(writer *w, size_t n) {
    if (w->len + n <= w->cap) return 0;
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

static int wr_len(writer *w, size_t v) {
    if (wr_reserve(w, 10) < 0) return -1;
    while (v >= 0x80) {
        w->buf[w->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->buf[w->len++] = (uint8_t)v;
    return 0;
}

static int wr_bytes(writer *w, const char *s, Py_ssize_t n) {
    if (wr_len(w, (size_t)n) < 0 || wr_reserve(w, (size_t)n) < 0) return -1;
    memcpy(w->buf + w->len, s, (size_t)n);
    w->len += (size_t)n;
    return 0;
}

static int wr_str(writer *w, PyObject *s) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "item codec: expected str");
        return -1;
    }
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

static int wr_tag(writer *w, int tag) {
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
        int rc = kind == T_L ? enc_value(w, e, depth + 1) : kind == T_BS ? wr_blob(w, e) : wr_str(w, e);
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
    Py_ssize_t n;
    const char *t = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &n) : NULL;
    if (!t) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "item codec: bad type tag");
        return -1;
    }
    int tag = 0;
    if (n == 1) {
        tag = t[0] == 'S' ? T_S : t[0] == 'N' ? T_N : t[0] == 'B' ? T_B : t[0] == 'M' ? T_M
            : t[0] == 'L' ? T_L : 0;
    } else if (n == 2) {
        if (t[1] == 'S') tag = t[0] == 'S' ? T_SS : t[0] == 'N' ? T_NS : t[0] == 'B' ? T_BS : 0;
    } else if (n == 4 && memcmp(t, "BOOL", 4) == 0) {
        tag = x == Py_True ? T_TRUE : x == Py_False ? T_FALSE : -1;
    } else if (n == 4 && memcmp(t, "NULL", 4) == 0) {
        tag = x == Py_True ? T_NULL : -1;
    }
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

static PyObject *py_encode_item(PyObject *self, PyObject *item) {
    (void)self;
    writer w;
    w.buf = w.small;
    w.len = 0;
    w.cap = sizeof w.small;
    w.buf[w.len++] = ITEM_FORMAT;
    PyObject *out = NULL;
    if (enc_map(&w, item, 0) == 0) out = PyBytes_FromStringAndSize((const char *)w.buf, (Py_ssize_t)w.len);
    if (w.buf != w.small) PyMem_Free(w.buf);
    return out;
}

/* --- Key codec entry points for Python (same contracts as engine/codec/keys.py). ---------- */

static int key_tag(PyObject *tag) {
    Py_ssize_t n;
    const char *t = PyUnicode_Check(tag) ? PyUnicode_AsUTF8AndSize(tag, &n) : NULL;
    if (t && n == 1 && (t[0] == 'S' || t[0] == 'N' || t[0] == 'B')) return t[0];
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "not a key type: %R", tag);
    return 0;
}

/* The raw bytes of a key value: UTF-8 of an S, ASCII of an N, the bytes of a B. *tmp may
 * receive a new reference the caller releases. */
static const char *key_raw(int tag, PyObject *v, Py_ssize_t *n, PyObject **tmp) {
    *tmp = NULL;
    if (tag == 'B') {
        if (!PyBytes_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "B key values are bytes");
            return NULL;
        }
        *n = PyBytes_GET_SIZE(v);
        return PyBytes_AS_STRING(v);
    }
    if (!PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "S and N key values are str");
        return NULL;
    }
    const char *u = PyUnicode_AsUTF8AndSize(v, n);
    if (u) return u;
    PyErr_Clear();
    *tmp = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
    if (!*tmp) return NULL;
    *n = PyBytes_GET_SIZE(*tmp);
    return PyBytes_AS_STRING(*tmp);
}

static PyObject *py_encode_primary_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "encode_primary_key(pk_tag, pk[, sk_tag, sk])");
        return NULL;
    }
    int pt = key_tag(args[0]);
    if (!pt) return NULL;
    int st = 0;
    if (nargs == 4 && args[2] != Py_None) {
        st = key_tag(args[2]);
        if (!st) return NULL;
    }
    PyObject *t1 = NULL, *t2 = NULL, *out = NULL;
    Py_ssize_t pn = 0, sn = 0;
    const char *sp = NULL;
    const char *pp = key_raw(pt, args[1], &pn, &t1);
    if (!pp) goto done;
    if (st) {
        sp = key_raw(st, args[3], &sn, &t2);
        if (!sp) goto done;
    }
    size_t need = 4 + 2 * (size_t)pn + 2 + 2 * (size_t)sn + 2 + SHALE_KEY_NUMBER_MAX;
    uint8_t stack[1024];
    uint8_t *buf = need <= sizeof stack ? stack : PyMem_Malloc(need);
    if (!buf) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t len = shale_key_encode_primary(pt, (const uint8_t *)pp, (size_t)pn, st,
                                           (const uint8_t *)sp, (size_t)sn, buf);
    if (len < 0)
        PyErr_SetString(PyExc_ValueError, "not a canonical DynamoDB number in key");
    else
        out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    if (buf != stack) PyMem_Free(buf);
done:
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    return out;
}

static PyObject *py_encode_key_value(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_key_value(tag, value)");
        return NULL;
    }
    int t = key_tag(args[0]);
    if (!t) return NULL;
    PyObject *tmp, *out = NULL;
    Py_ssize_t n;
    const char *p = key_raw(t, args[1], &n, &tmp);
    if (!p) return NULL;
    size_t need = 2 * (size_t)n + 2 + SHALE_KEY_NUMBER_MAX;
    uint8_t stack[512];
    uint8_t *buf = need <= sizeof stack ? stack : PyMem_Malloc(need);
    if (!buf) {
        Py_XDECREF(tmp);
        return PyErr_NoMemory();
    }
    int64_t len = t == 'N' ? shale_key_encode_number(p, (size_t)n, buf)
                           : (int64_t)shale_key_encode_bytes((const uint8_t *)p, (size_t)n, buf);
    if (len < 0)
        PyErr_Format(PyExc_ValueError, "not a canonical DynamoDB number: %R", args[1]);
    else
        out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    if (buf != stack) PyMem_Free(buf);
    Py_XDECREF(tmp);
    return out;
}

/* Decode one value of type tag at data[pos:]; returns (value, end) or NULL. */
static PyObject *decode_one(int tag, const uint8_t *data, Py_ssize_t len, Py_ssize_t pos) {
    if (pos < 0 || pos > len) {
        PyErr_SetString(PyExc_ValueError, "key offset out of range");
        return NULL;
    }
    size_t out_len = 0;
    PyObject *value = NULL;
    int64_t used;
    if (tag == 'N') {
        char text[SHALE_KEY_NUMBER_TEXT_MAX];
        used = shale_key_decode_number(data + pos, (size_t)(len - pos), text, &out_len);
        if (used >= 0) value = PyUnicode_FromStringAndSize(text, (Py_ssize_t)out_len);
    } else {
        uint8_t stack[512];
        size_t cap = (size_t)(len - pos) + 1;
        uint8_t *buf = cap <= sizeof stack ? stack : PyMem_Malloc(cap);
        if (!buf) return PyErr_NoMemory();
        used = shale_key_decode_bytes(data + pos, (size_t)(len - pos), buf, &out_len);
        if (used >= 0)
            value = tag == 'S' ? PyUnicode_DecodeUTF8((const char *)buf, (Py_ssize_t)out_len,
                                                      "surrogatepass")
                               : PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)out_len);
        if (buf != stack) PyMem_Free(buf);
    }
    if (used < 0) {
        PyErr_Format(PyExc_ValueError, "malformed %c key at offset %zd", tag, pos);
        return NULL;
    }
    if (!value) return NULL;
    return Py_BuildValue("(Nn)", value, pos + (Py_ssize_t)used);
}

static PyObject *py_decode_key_value(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "decode_key_value(tag, data[, pos])");
        return NULL;
    }
    int t = key_tag(args[0]);
    if (!t) return NULL;
    Py_ssize_t pos = 0;
    if (nargs == 3) {
        pos = PyLong_AsSsize_t(args[2]);
        if (pos == -1 && PyErr_Occurred()) return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = decode_one(t, view.buf, view.len, pos);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef codec_methods[] = {
    {"encode_item", py_encode_item, METH_O, "Encode a normalised item (format 1)."},
    {"decode_item", py_decode_item, METH_O, "Decode a format-1 item."},
    {"encode_key_value", (PyCFunction)(void (*)(void))py_encode_key_value, METH_FASTCALL,
     "encode_key_value(tag, value) -> bytes"},
    {"encode_primary_key", (PyCFunction)(void (*)(void))py_encode_primary_key, METH_FASTCALL,
     "encode_primary_key(pk_tag, pk[, sk_tag, sk]) -> bytes"},
    {"decode_key_value", (PyCFunction)(void (*)(void))py_decode_key_value, METH_FASTCALL,
     "decode_key_value(tag, data[, pos]) -> (value, end)"},
};

void *shale_codec_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    static const char *names[12] = {"", "S", "N", "B", "BOOL", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"};
    PyObject *out = NULL;
    for (int i = 1; i < 12; i++) {
        if (!k_tag[i]) k_tag[i] = PyUnicode_InternFromString(names[i]);
        if (!k_tag[i]) goto done;
    }
    int n = (int)(sizeof codec_methods / sizeof codec_methods[0]);
    out = PyTuple_New(n);
    if (!out) goto done;
    for (int i = 0; i < n; i++) {
        PyObject *f = PyCFunction_New(&codec_methods[i], NULL);
        if (!f) {
            Py_CLEAR(out);
            goto done;
        }
        PyTuple_SET_ITEM(out, i, f);
    }
done:
    PyGILState_Release(g);
    return out;
}
