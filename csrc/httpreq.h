/* The common case of an HTTP/1.1 request, parsed in one call (engine/server/http.py).
 *
 * parse_request(data, start, max_head, max_body) looks at data[start:] (bytes) and, when
 * it begins with a whole request of the plain form every SDK sends, returns
 *     (method, path, query, headers, body, end)
 * where headers maps lower-case names to values (str, latin-1), body is bytes and
 * data[end:] is what follows the request. It returns None for anything else, and the
 * caller then feeds data[start:] to httptools, the parser that decides every other case
 * (errors included). So the fast path must only ever accept, and parse exactly as
 * httptools does, a subset of what httptools accepts; a differential test holds it to
 * that (tests/server/test_httpreq.py). The subset:
 *
 *   request  := method SP target SP "HTTP/1.1" CRLF *(header CRLF) CRLF body
 *   method   := "GET" | "POST"
 *   target   := "/" *(ALPHA | DIGIT | one of -._~!$&'()*+,;=:@/?%)
 *   header   := name ":" *(SP | HTAB) value        (value: VCHAR, with SP/HTAB inside
 *                                                    only; never empty, never ending in
 *                                                    SP/HTAB)
 *   name     := 1*tchar
 *   body     := Content-Length bytes (none without Content-Length)
 *
 * and None as well for: a request not wholly in data (head or body), a head over max_head
 * bytes, more than 100 headers, a header name given twice, Content-Length not 1-10 digits
 * or over max_body, any Transfer-Encoding, Expect, Connection or Upgrade header.
 *
 * shale_http_functions() returns a new reference to the tuple (parse_request,) as a void
 * pointer (cffi declarations cannot name PyObject); NULL on failure. Takes the GIL itself.
 * parse_request holds the GIL and keeps no state: any thread may call it. */
#ifndef SHALE_HTTPREQ_H
#define SHALE_HTTPREQ_H

void *shale_http_functions(void);

#endif
