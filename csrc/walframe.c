/* WAL record framing: see walframe.h. One allocation and one pass per record, where the
 * Python twin packs five headers and concatenates six times. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "walframe.h"
#include "pyfuncs.h"

#include <string.h>

/* ------------------------------------------------------------------ CRC-32C */

static uint32_t crc_table[256];
static int crc_ready;
static int crc_hw;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
    crc_ready = 1;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p,
                                                             size_t n) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n > 0) {
        c = __builtin_ia32_crc32qi(c, *p++);
        n--;
    }
    return c;
}
#endif

uint32_t shale_crc32c(uint32_t crc, const uint8_t *p, size_t n) {
    if (!crc_ready) crc_init();
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc_hw) return ~crc_sse42(c, p, n);
#endif
    while (n > 0) {
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
        n--;
    }
    return ~c;
}

/* ------------------------------------------------------------------ framing */

static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

#define RECORD_HEADER 8 /* crc u32 | length u32 */
#define BATCH_HEADER 20 /* seqno u64 | commit_ts_us u64 | count u32 */
#define OP_HEADER 9     /* kind u8 | keyspace id u32 | key length u32 */
#define MAX_RECORD ((Py_ssize_t)1 << 30)

static int as_u64(PyObject *o, uint64_t *out) {
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

static int as_u32(PyObject *o, uint32_t *out) {
    uint64_t v;
    if (as_u64(o, &v) < 0) return -1;
    if (v > 0xFFFFFFFFu) {
        PyErr_SetString(PyExc_OverflowError, "value does not fit a u32 field");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Fill crc, length and batch header around a payload already in place at out + 8. */
static void seal(uint8_t *out, Py_ssize_t payload_len, uint64_t seqno, uint64_t ts,
                 uint32_t count) {
    put_u32(out + 4, (uint32_t)payload_len);
    put_u64(out + 8, seqno);
    put_u64(out + 16, ts);
    put_u32(out + 24, count);
    put_u32(out, shale_crc32c(0, out + 4, (size_t)payload_len + 4));
}

static PyObject *py_frame_record(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t seqno, ts;
    uint32_t count;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "frame_record(seqno, commit_ts_us, count, body)");
        return NULL;
    }
    if (as_u64(args[0], &seqno) < 0 || as_u64(args[1], &ts) < 0 || as_u32(args[2], &count) < 0)
        return NULL;
    if (!PyBytes_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "body must be bytes");
        return NULL;
    }
    Py_ssize_t body_len = PyBytes_GET_SIZE(args[3]);
    Py_ssize_t payload_len = BATCH_HEADER + body_len;
    if (payload_len > MAX_RECORD) {
        PyErr_SetString(PyExc_OverflowError, "batch too large for one WAL record");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, RECORD_HEADER + payload_len);
    if (!out) return NULL;
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(out);
    memcpy(p + RECORD_HEADER + BATCH_HEADER, PyBytes_AS_STRING(args[3]), (size_t)body_len);
    seal(p, payload_len, seqno, ts, count);
    return out;
}

static PyObject *py_frame_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t seqno, ts;
    uint32_t ksid;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "frame_put(seqno, commit_ts_us, keyspace_id, key, value)");
        return NULL;
    }
    if (as_u64(args[0], &seqno) < 0 || as_u64(args[1], &ts) < 0 || as_u32(args[2], &ksid) < 0)
        return NULL;
    if (!PyBytes_CheckExact(args[3]) || !PyBytes_CheckExact(args[4])) {
        PyErr_SetString(PyExc_TypeError, "key and value must be bytes");
        return NULL;
    }
    Py_ssize_t klen = PyBytes_GET_SIZE(args[3]);
    Py_ssize_t vlen = PyBytes_GET_SIZE(args[4]);
    if (klen > MAX_RECORD || vlen > MAX_RECORD) {
        PyErr_SetString(PyExc_OverflowError, "batch too large for one WAL record");
        return NULL;
    }
    Py_ssize_t payload_len = BATCH_HEADER + OP_HEADER + klen + 4 + vlen;
    if (payload_len > MAX_RECORD) {
        PyErr_SetString(PyExc_OverflowError, "batch too large for one WAL record");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, RECORD_HEADER + payload_len);
    if (!out) return NULL;
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(out);
    uint8_t *op = p + RECORD_HEADER + BATCH_HEADER;
    op[0] = 1; /* KIND_VALUE */
    put_u32(op + 1, ksid);
    put_u32(op + 5, (uint32_t)klen);
    memcpy(op + OP_HEADER, PyBytes_AS_STRING(args[3]), (size_t)klen);
    put_u32(op + OP_HEADER + klen, (uint32_t)vlen);
    memcpy(op + OP_HEADER + klen + 4, PyBytes_AS_STRING(args[4]), (size_t)vlen);
    seal(p, payload_len, seqno, ts, 1);
    return out;
}

static PyMethodDef wal_methods[] = {
    {"frame_record", (PyCFunction)(void (*)(void))py_frame_record, METH_FASTCALL,
     "frame_record(seqno, commit_ts_us, count, body) -> bytes"},
    {"frame_put", (PyCFunction)(void (*)(void))py_frame_put, METH_FASTCALL,
     "frame_put(seqno, commit_ts_us, keyspace_id, key, value) -> bytes"},
};

void *shale_wal_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    if (!crc_ready) crc_init();
    PyObject *out =
        shale_function_tuple(wal_methods, (int)(sizeof wal_methods / sizeof wal_methods[0]));
    PyGILState_Release(g);
    return out;
}
