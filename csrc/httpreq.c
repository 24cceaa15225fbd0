/* The common case of an HTTP/1.1 request in one call: see httpreq.h for the contract and
 * the accepted subset; everything else is left to httptools by returning None. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "httpreq.h"

#define MAX_HEADERS 100
#define MAX_NAME 64 /* longer header names are left to httptools */

/* Character classes: 1 tchar (header names), 2 target characters, 4 value characters
 * (VCHAR; SP and HTAB are handled apart). */
static unsigned char cls[256];

static void init_classes(void) {
    for (int c = '0'; c <= '9'; c++) cls[c] |= 1 | 2;
    for (int c = 'a'; c <= 'z'; c++) cls[c] |= 1 | 2;
    for (int c = 'A'; c <= 'Z'; c++) cls[c] |= 1 | 2;
    for (const char *p = "!#$%&'*+-.^_`|~"; *p; p++) cls[(unsigned char)*p] |= 1;
    for (const char *p = "-._~!$&'()*+,;=:@/?%"; *p; p++) cls[(unsigned char)*p] |= 2;
    for (int c = 0x21; c <= 0x7e; c++) cls[c] |= 4;
}

static PyObject *s_get, *s_post, *s_slash, *s_empty;

/* Header names SDKs send on every request, as interned strings: a dict key made once
 * (hash cached) instead of a new string per request. */
static const char *const known_names[] = {
    "host", "content-type", "x-amz-target", "x-amz-date", "authorization", "content-length",
    "user-agent", "accept-encoding", "amz-sdk-invocation-id", "amz-sdk-request",
    "x-amz-security-token", "content-encoding", "x-amz-content-sha256", "accept",
};
#define KNOWN_NAMES ((int)(sizeof known_names / sizeof known_names[0]))
static PyObject *known_keys[KNOWN_NAMES];
static Py_ssize_t known_len[KNOWN_NAMES];

static PyObject *header_key(const char *lower, Py_ssize_t n) {
    for (int i = 0; i < KNOWN_NAMES; i++) {
        if (known_len[i] == n && memcmp(known_names[i], lower, (size_t)n) == 0)
            return Py_NewRef(known_keys[i]);
    }
    return PyUnicode_DecodeLatin1(lower, n, NULL);
}

/* A lower-case ASCII name of n bytes, matched against a literal. */
static int name_is(const char *lower, Py_ssize_t n, const char *lit) {
    return (size_t)n == strlen(lit) && memcmp(lower, lit, (size_t)n) == 0;
}

static PyObject *py_parse_request(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "parse_request(data: bytes, start, max_head, max_body)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    Py_ssize_t max_head = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_body = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    if (start < 0 || start > size) {
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    const unsigned char *p = base + start;
    const unsigned char *end = base + size;
    if (end - p > max_head) end = p + max_head; /* the head must lie within max_head */

    /* request line */
    PyObject *method;
    if (end - p >= 4 && memcmp(p, "GET ", 4) == 0) {
        method = s_get;
        p += 4;
    } else if (end - p >= 5 && memcmp(p, "POST ", 5) == 0) {
        method = s_post;
        p += 5;
    } else {
        Py_RETURN_NONE;
    }
    const unsigned char *target = p;
    if (p >= end || *p != '/') Py_RETURN_NONE;
    const unsigned char *query = NULL;
    while (p < end && (cls[*p] & 2)) {
        if (*p == '?' && query == NULL) query = p;
        p++;
    }
    const unsigned char *target_end = p;
    if (end - p < 11 || memcmp(p, " HTTP/1.1\r\n", 11) != 0) Py_RETURN_NONE;
    p += 11;

    /* headers: validated and located first, objects built only for a whole request */
    const unsigned char *names[MAX_HEADERS], *values[MAX_HEADERS];
    Py_ssize_t name_len[MAX_HEADERS], value_len[MAX_HEADERS];
    int n = 0;
    long long content_length = 0;
    int has_length = 0;
    for (;;) {
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        if (n == MAX_HEADERS) Py_RETURN_NONE;
        const unsigned char *name = p;
        while (p < end && (cls[*p] & 1)) p++;
        Py_ssize_t nl = p - name;
        if (nl == 0 || nl > MAX_NAME || p >= end || *p != ':') Py_RETURN_NONE;
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const unsigned char *value = p;
        while (p < end && ((cls[*p] & 4) || *p == ' ' || *p == '\t')) p++;
        Py_ssize_t vl = p - value;
        if (vl == 0 || value[vl - 1] == ' ' || value[vl - 1] == '\t') Py_RETURN_NONE;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') Py_RETURN_NONE;
        p += 2;
        char lower[MAX_NAME];
        for (Py_ssize_t i = 0; i < nl; i++) {
            unsigned char c = name[i];
            lower[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        switch (lower[0]) { /* the headers that change how a request is read */
            case 'c':
                if (name_is(lower, nl, "content-length")) {
                    if (has_length || vl > 10) Py_RETURN_NONE;
                    for (Py_ssize_t i = 0; i < vl; i++) {
                        if (value[i] < '0' || value[i] > '9') Py_RETURN_NONE;
                        content_length = content_length * 10 + (value[i] - '0');
                    }
                    has_length = 1;
                } else if (name_is(lower, nl, "connection")) {
                    Py_RETURN_NONE;
                }
                break;
            case 'e':
                if (name_is(lower, nl, "expect")) Py_RETURN_NONE;
                break;
            case 't':
                if (name_is(lower, nl, "transfer-encoding")) Py_RETURN_NONE;
                break;
            case 'u':
                if (name_is(lower, nl, "upgrade")) Py_RETURN_NONE;
                break;
        }
        names[n] = name;
        name_len[n] = nl;
        values[n] = value;
        value_len[n] = vl;
        n++;
    }
    if (content_length > max_body) Py_RETURN_NONE;
    Py_ssize_t head_end = p - base;
    if ((long long)(size - head_end) < content_length) Py_RETURN_NONE; /* body not all here */

    /* a whole request: build its objects */
    PyObject *headers = PyDict_New();
    if (!headers) return NULL;
    for (int i = 0; i < n; i++) {
        char lower[MAX_NAME];
        for (Py_ssize_t j = 0; j < name_len[i]; j++) {
            unsigned char c = names[i][j];
            lower[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        PyObject *key = header_key(lower, name_len[i]);
        if (!key) goto fail;
        int seen = PyDict_Contains(headers, key);
        if (seen != 0) { /* a repeated name (1), or an error (-1) */
            Py_DECREF(key);
            Py_DECREF(headers);
            if (seen < 0) return NULL;
            Py_RETURN_NONE;
        }
        PyObject *val = PyUnicode_DecodeLatin1((const char *)values[i], value_len[i], NULL);
        if (!val) {
            Py_DECREF(key);
            goto fail;
        }
        int rc = PyDict_SetItem(headers, key, val);
        Py_DECREF(key);
        Py_DECREF(val);
        if (rc < 0) goto fail;
    }
    PyObject *path, *query_str;
    if (target_end - target == 1) {
        path = Py_NewRef(s_slash);
        query_str = Py_NewRef(s_empty);
    } else {
        const unsigned char *path_end = query ? query : target_end;
        path = PyUnicode_DecodeLatin1((const char *)target, path_end - target, NULL);
        query_str = query ? PyUnicode_DecodeLatin1((const char *)query + 1,
                                                   target_end - query - 1, NULL)
                          : Py_NewRef(s_empty);
        if (!path || !query_str) {
            Py_XDECREF(path);
            Py_XDECREF(query_str);
            goto fail;
        }
    }
    PyObject *body = PyBytes_FromStringAndSize((const char *)base + head_end,
                                               (Py_ssize_t)content_length);
    if (!body) {
        Py_DECREF(path);
        Py_DECREF(query_str);
        goto fail;
    }
    PyObject *stop = PyLong_FromSsize_t(head_end + (Py_ssize_t)content_length);
    if (!stop) {
        Py_DECREF(path);
        Py_DECREF(query_str);
        Py_DECREF(body);
        goto fail;
    }
    PyObject *out = PyTuple_New(6);
    if (!out) {
        Py_DECREF(path);
        Py_DECREF(query_str);
        Py_DECREF(body);
        Py_DECREF(stop);
        goto fail;
    }
    PyTuple_SET_ITEM(out, 0, Py_NewRef(method));
    PyTuple_SET_ITEM(out, 1, path);
    PyTuple_SET_ITEM(out, 2, query_str);
    PyTuple_SET_ITEM(out, 3, headers);
    PyTuple_SET_ITEM(out, 4, body);
    PyTuple_SET_ITEM(out, 5, stop);
    return out;
fail:
    Py_DECREF(headers);
    return NULL;
}

static PyMethodDef http_methods[] = {
    {"parse_request", (PyCFunction)(void (*)(void))py_parse_request, METH_FASTCALL,
     "parse_request(data, start, max_head, max_body) -> (method, path, query, headers, "
     "body, end) | None"},
};

void *shale_http_functions(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *out = NULL;
    if (!s_get) {
        init_classes();
        s_get = PyUnicode_InternFromString("GET");
        s_post = PyUnicode_InternFromString("POST");
        s_slash = PyUnicode_InternFromString("/");
        s_empty = PyUnicode_InternFromString("");
        for (int i = 0; i < KNOWN_NAMES; i++) {
            known_len[i] = (Py_ssize_t)strlen(known_names[i]);
            known_keys[i] = PyUnicode_InternFromString(known_names[i]);
        }
    }
    int ready = s_get && s_post && s_slash && s_empty;
    for (int i = 0; i < KNOWN_NAMES; i++) ready = ready && known_keys[i];
    if (ready) {
        int count = (int)(sizeof http_methods / sizeof http_methods[0]);
        out = PyTuple_New(count);
        for (int i = 0; out && i < count; i++) {
            PyObject *f = PyCFunction_New(&http_methods[i], NULL);
            if (!f) {
                Py_CLEAR(out);
                break;
            }
            PyTuple_SET_ITEM(out, i, f);
        }
    }
    if (!out) PyErr_Clear();
    PyGILState_Release(g);
    return out;
}
