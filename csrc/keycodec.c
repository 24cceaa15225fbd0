/* Order-preserving key encoding and the item codec; see keycodec.h. Specifications: the
 * pure-Python twins engine/codec/keys.py (keys) and engine/model/itemcodec.py (items). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "keycodec.h"
#include "pyfuncs.h"

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

/* index_entries(plan, item, skey, value, size, ops, changes, item_size, encode_value)
 * -> entries staged. For every (index name, keyspace, hash attribute, hash tag, range
 * attribute or None, range tag or None, projected names or None) of plan whose key
 * attributes item holds with those tags: the entry key encode_primary_key(hash tag, h[,
 * range tag, r]) + skey, then ops[(keyspace, entry key)] = the entry value and
 * changes[index name] = (1, its size, write units). With projected names None (ALL) the
 * entry is the base value `value`, of DynamoDB size `size`; otherwise the entry holds those of
 * item's attributes, measured by item_size and encoded by encode_value(entry, size). An
 * attribute that is missing or of another type leaves the item out of that index
 * (engine/index/entries.py entry_key and encode_entry, whose twin this is for indexes
 * keyed like tables). */
static PyObject *attr_value(PyObject *item, PyObject *name, PyObject *tag) {
    PyObject *v = PyDict_GetItemWithError(item, name); /* borrowed */
    if (!v) return NULL;
    if (!PyDict_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "an attribute value is a dict");
        return NULL;
    }
    return PyDict_GetItemWithError(v, tag);
}

/* The value of an entry that projects the attributes `keep` (a tuple of names) of item,
 * and in *change its (1, size, write units); NULL with an error set. */
static PyObject *projected_entry(PyObject *keep, PyObject *item, PyObject *item_size,
                                 PyObject *encode_value, PyObject **change) {
    if (!PyTuple_Check(keep)) {
        PyErr_SetString(PyExc_TypeError, "projected names are a tuple");
        return NULL;
    }
    PyObject *entry = PyDict_New();
    if (!entry) return NULL;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(keep); j++) {
        PyObject *name = PyTuple_GET_ITEM(keep, j);
        PyObject *v = PyDict_GetItemWithError(item, name);
        if ((!v && PyErr_Occurred()) || (v && PyDict_SetItem(entry, name, v) < 0)) {
            Py_DECREF(entry);
            return NULL;
        }
    }
    PyObject *size = PyObject_CallOneArg(item_size, entry);
    PyObject *out = size ? PyObject_CallFunctionObjArgs(encode_value, entry, size, NULL) : NULL;
    Py_DECREF(entry);
    Py_ssize_t n = out ? PyLong_AsSsize_t(size) : -1;
    if (n < 0) {
        Py_XDECREF(size);
        Py_XDECREF(out);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a negative entry size");
        return NULL;
    }
    Py_ssize_t units = (n + 1023) / 1024;
    *change = Py_BuildValue("(iOd)", 1, size, (double)(units ? units : 1));
    Py_DECREF(size);
    if (!*change) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *py_index_entries(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 9 || !PyTuple_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyBytes_Check(args[2]) || !PyBytes_Check(args[3]) || !PyDict_Check(args[5]) ||
        !PyDict_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "index_entries(plan: tuple, item: dict, skey: bytes, value: bytes, "
                        "size, ops: dict, changes: dict, item_size, encode_value)");
        return NULL;
    }
    PyObject *plan = args[0], *item = args[1], *skey = args[2], *value = args[3];
    PyObject *size = args[4], *ops = args[5], *changes = args[6];
    PyObject *item_size = args[7], *encode_value = args[8];
    PyObject *whole = NULL; /* (1, size, units) of an entry of the whole item, made once */
    Py_ssize_t staged = 0, skn = PyBytes_GET_SIZE(skey);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(plan); i++) {
        PyObject *p = PyTuple_GET_ITEM(plan, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 7) {
            PyErr_SetString(PyExc_TypeError, "a plan entry has seven fields");
            goto fail;
        }
        PyObject *rname = PyTuple_GET_ITEM(p, 4);
        PyObject *h = attr_value(item, PyTuple_GET_ITEM(p, 2), PyTuple_GET_ITEM(p, 3));
        if (!h) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        PyObject *r = NULL;
        if (rname != Py_None) {
            r = attr_value(item, rname, PyTuple_GET_ITEM(p, 5));
            if (!r) {
                if (PyErr_Occurred()) goto fail;
                continue;
            }
        }
        int pt = key_tag(PyTuple_GET_ITEM(p, 3));
        int st = r ? key_tag(PyTuple_GET_ITEM(p, 5)) : 0;
        if (!pt || (r && !st)) goto fail;
        PyObject *t1 = NULL, *t2 = NULL, *nk = NULL;
        Py_ssize_t pn = 0, sn = 0;
        const char *sp = NULL, *pp = key_raw(pt, h, &pn, &t1);
        if (pp && r) sp = key_raw(st, r, &sn, &t2);
        if (pp && (!r || sp)) {
            size_t need = 4 + 2 * (size_t)pn + 2 + 2 * (size_t)sn + 2 + SHALE_KEY_NUMBER_MAX;
            nk = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)need + skn);
            if (nk) {
                uint8_t *buf = (uint8_t *)PyBytes_AS_STRING(nk);
                int64_t len = shale_key_encode_primary(pt, (const uint8_t *)pp, (size_t)pn, st,
                                                       (const uint8_t *)sp, (size_t)sn, buf);
                if (len < 0) {
                    PyErr_SetString(PyExc_ValueError, "not a canonical DynamoDB number in key");
                    Py_CLEAR(nk);
                } else {
                    memcpy(buf + len, PyBytes_AS_STRING(skey), (size_t)skn);
                    if (_PyBytes_Resize(&nk, (Py_ssize_t)len + skn) < 0) nk = NULL;
                }
            }
        }
        Py_XDECREF(t1);
        Py_XDECREF(t2);
        if (!nk) goto fail;
        PyObject *k = PyTuple_Pack(2, PyTuple_GET_ITEM(p, 1), nk);
        Py_DECREF(nk);
        if (!k) goto fail;
        PyObject *keep = PyTuple_GET_ITEM(p, 6);
        PyObject *entry_value = value, *change = NULL, *owned_value = NULL, *owned_change = NULL;
        if (keep == Py_None) {
            if (!whole) {
                Py_ssize_t n = PyLong_AsSsize_t(size);
                if (n < 0) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a negative size");
                    Py_DECREF(k);
                    goto fail;
                }
                Py_ssize_t units = (n + 1023) / 1024;
                whole = Py_BuildValue("(iOd)", 1, size, (double)(units ? units : 1));
                if (!whole) {
                    Py_DECREF(k);
                    goto fail;
                }
            }
            change = whole;
        } else {
            owned_value = projected_entry(keep, item, item_size, encode_value, &owned_change);
            if (!owned_value) {
                Py_DECREF(k);
                goto fail;
            }
            entry_value = owned_value;
            change = owned_change;
        }
        int rc = PyDict_SetItem(ops, k, entry_value);
        Py_DECREF(k);
        if (rc == 0) rc = PyDict_SetItem(changes, PyTuple_GET_ITEM(p, 0), change);
        Py_XDECREF(owned_value);
        Py_XDECREF(owned_change);
        if (rc < 0) goto fail;
        staged++;
    }
    Py_XDECREF(whole);
    return PyLong_FromSsize_t(staged);
fail:
    Py_XDECREF(whole);
    return NULL;
}

/* index_keys_plausible(checks, item) -> bool: False when, for some (attribute, tag, ...)
 * of checks, item holds the attribute but not as a non-empty value of that tag (an N is
 * never empty). True means every index key attribute item holds is valid; False sends the
 * caller to engine/index/entries.py's full rules, which find DynamoDB's message. */
static PyObject *py_index_keys_plausible(PyObject *self, PyObject *const *args,
                                         Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyTuple_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "index_keys_plausible(checks: tuple, item: dict)");
        return NULL;
    }
    PyObject *checks = args[0], *item = args[1];
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(checks); i++) {
        PyObject *c = PyTuple_GET_ITEM(checks, i);
        if (!PyTuple_Check(c) || PyTuple_GET_SIZE(c) < 2) {
            PyErr_SetString(PyExc_TypeError, "a check is (attribute, tag, ...)");
            return NULL;
        }
        PyObject *v = PyDict_GetItemWithError(item, PyTuple_GET_ITEM(c, 0));
        if (!v) {
            if (PyErr_Occurred()) return NULL;
            continue;
        }
        if (!PyDict_Check(v)) Py_RETURN_FALSE;
        PyObject *x = PyDict_GetItemWithError(v, PyTuple_GET_ITEM(c, 1));
        if (!x) {
            if (PyErr_Occurred()) return NULL;
            Py_RETURN_FALSE;
        }
        int truth = PyObject_IsTrue(x);
        if (truth < 0) return NULL;
        if (!truth) Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* One key attribute of a table key, when it is plainly valid: the single-tag value of the
 * attribute's type, non-empty, within the size limit (an N of canonical text is at most 21
 * bytes). Returns the tag and sets *raw, *n (and *tmp as key_raw does); 0 when in doubt. */
static int plain_key_part(PyObject *item, PyObject *name, PyObject *attributes, size_t limit,
                          const char **raw, Py_ssize_t *n, PyObject **tmp) {
    *tmp = NULL;
    PyObject *tagobj = PyDict_GetItemWithError(attributes, name);
    PyObject *v = PyDict_GetItemWithError(item, name);
    if (!tagobj || !v || !PyDict_Check(v) || PyDict_GET_SIZE(v) != 1) return 0;
    PyObject *x = PyDict_GetItemWithError(v, tagobj);
    if (!x) return 0;
    int tag = key_tag(tagobj);
    if (!tag) {
        PyErr_Clear();
        return 0;
    }
    if ((tag == 'B') != (PyBytes_CheckExact(x) != 0)) return 0;
    if (tag != 'B' && !PyUnicode_CheckExact(x)) return 0;
    *raw = key_raw(tag, x, n, tmp);
    if (!*raw) {
        PyErr_Clear();
        return 0;
    }
    if (tag == 'N' ? *n > 64 : (*n == 0 || (size_t)*n > limit)) {
        Py_CLEAR(*tmp);
        return 0;
    }
    return tag;
}

/* table_key(attributes, hash key, range key or None, item) -> bytes | None: the storage key
 * of a table item or key (engine/table/schema.py storage_key) when its key attributes are
 * plainly valid; None sends the caller to the Python rules, which name what is wrong. */
static PyObject *py_table_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "table_key(attributes, hash_key, range_key, item)");
        return NULL;
    }
    const char *pp = NULL, *sp = NULL;
    Py_ssize_t pn = 0, sn = 0;
    PyObject *t1 = NULL, *t2 = NULL, *out = NULL;
    int pt = plain_key_part(args[3], args[1], args[0], 2048, &pp, &pn, &t1);
    int st = 0;
    if (pt && args[2] != Py_None) {
        st = plain_key_part(args[3], args[2], args[0], 1024, &sp, &sn, &t2);
        if (!st) pt = 0;
    }
    if (pt) {
        size_t need = 4 + 2 * (size_t)pn + 2 + 2 * (size_t)sn + 2 + SHALE_KEY_NUMBER_MAX;
        uint8_t stack[1024];
        uint8_t *buf = need <= sizeof stack ? stack : PyMem_Malloc(need);
        if (!buf) {
            PyErr_NoMemory();
        } else {
            int64_t len = shale_key_encode_primary(pt, (const uint8_t *)pp, (size_t)pn, st,
                                                   (const uint8_t *)sp, (size_t)sn, buf);
            if (len >= 0) out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
            if (buf != stack) PyMem_Free(buf);
        }
    }
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    if (out || PyErr_Occurred()) return out;
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef codec_methods[] = {
    {"encode_key_value", (PyCFunction)(void (*)(void))py_encode_key_value, METH_FASTCALL,
     "encode_key_value(tag, value) -> bytes"},
    {"encode_primary_key", (PyCFunction)(void (*)(void))py_encode_primary_key, METH_FASTCALL,
     "encode_primary_key(pk_tag, pk[, sk_tag, sk]) -> bytes"},
    {"decode_key_value", (PyCFunction)(void (*)(void))py_decode_key_value, METH_FASTCALL,
     "decode_key_value(tag, data[, pos]) -> (value, end)"},
    {"index_entries", (PyCFunction)(void (*)(void))py_index_entries, METH_FASTCALL,
     "index_entries(plan, item, skey, value, size, ops, changes, item_size, encode_value) "
     "-> entries staged"},
    {"index_keys_plausible", (PyCFunction)(void (*)(void))py_index_keys_plausible,
     METH_FASTCALL, "index_keys_plausible(checks, item) -> bool"},
    {"table_key", (PyCFunction)(void (*)(void))py_table_key, METH_FASTCALL,
     "table_key(attributes, hash_key, range_key, item) -> bytes | None"},
};

void *shale_codec_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *out =
        shale_function_tuple(codec_methods, (int)(sizeof codec_methods / sizeof codec_methods[0]));
    PyGILState_Release(g);
    return out;
}
